//! The tonic `ReservationService`: checks access, converts proto ⇄ domain, and
//! hands checkouts and cancellations to the saga. The saga runs on a task of
//! its own, so that a caller who goes away (its deadline passed, its connection
//! dropped) does not stop a saga halfway: it finishes, or recovery finishes it.
//! The admin RPCs list unfinished sagas and drive one now (see `admin`).

use std::time::Duration;

use tonic::{Request, Response, Status};
use travel::access::{Caller, Requirement, check};
use travel::deadline::Deadline;
use travel::jwt::Role;
use travel::pb::reservation::v1 as pb;
use travel::pb::reservation::v1::reservation_service_server::ReservationService;

use crate::admin;
use crate::convert;
use crate::domain::{Checkout, Reservation, cancelled};
use crate::drain::Drain;
use crate::error::Error;
use crate::saga::Saga;

/// How long past its deadline a handler waits for its saga to report, so that
/// a saga that ran out of budget can still answer with the reservation.
const GRACE: Duration = Duration::from_millis(250);

/// The gRPC face of the reservation service.
#[derive(Debug)]
pub struct ReservationApi {
    saga: Saga,
    checkout_timeout: Duration,
    drain: Drain,
}

impl ReservationApi {
    /// A service driving checkouts with `saga`, each within `checkout_timeout`
    /// unless the caller's deadline is shorter.
    pub fn new(saga: Saga, checkout_timeout: Duration) -> Self {
        Self {
            saga,
            checkout_timeout,
            drain: Drain::new(),
        }
    }

    /// Runs its sagas under `drain`, which refuses new ones once the service stops.
    pub fn draining_with(mut self, drain: Drain) -> Self {
        self.drain = drain;
        self
    }

    /// Runs `work` on its own task and waits for it until `deadline` (plus a
    /// grace); UNAVAILABLE without starting it if the service is stopping.
    async fn detached<F, T>(&self, deadline: Deadline, work: F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>> + Send + 'static,
        T: Send + 'static,
    {
        let task = self.drain.spawn(work)?;
        match tokio::time::timeout_at(deadline.instant() + GRACE, task).await {
            Ok(joined) => joined?,
            Err(_) => Err(Error::DeadlineExceeded(
                "the reservation did not finish before the deadline; it is finished in the background \
                 (retry with the same request_id, or get the reservation, to see how it ended)"
                    .into(),
            )),
        }
    }

    /// The caller's reservation `id`: NOT_FOUND if it is someone else's (unless the caller is an admin).
    async fn visible(&self, caller: &Booker, id: &str) -> Result<Reservation, Error> {
        let reservation = self.saga.store().get(id).await?;
        if caller.admin || reservation.user_id == caller.user_id {
            Ok(reservation)
        } else {
            Err(Error::NotFound(id.to_owned()))
        }
    }
}

/// A signed-in customer or admin: who books, and whether they see everyone's.
struct Booker {
    user_id: String,
    admin: bool,
}

/// Customers and admins may call; anonymous callers are UNAUTHENTICATED and
/// service accounts PERMISSION_DENIED.
#[allow(clippy::result_large_err)] // tonic::Status is what handlers return
fn booker<T>(request: &Request<T>) -> Result<Booker, Status> {
    match check(request, Requirement::SignedIn)? {
        Caller::Authenticated { subject, role } if role != Role::Service => Ok(Booker {
            user_id: subject,
            admin: role == Role::Admin,
        }),
        _ => Err(Error::ServiceAccount.into()),
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl ReservationService for ReservationApi {
    async fn checkout(&self, request: Request<pb::CheckoutRequest>) -> Reply<pb::CheckoutResponse> {
        let caller = booker(&request)?;
        let deadline = Deadline::of_request(&request, self.checkout_timeout);
        let checkout = Checkout::try_from(request.into_inner()).map_err(Error::from)?;
        let saga = self.saga.clone();
        let reservation = self
            .detached(deadline, async move {
                saga.checkout(&caller.user_id, checkout, deadline).await
            })
            .await?;
        Ok(Response::new(pb::CheckoutResponse {
            reservation: Some(reservation.into()),
        }))
    }

    async fn get_reservation(&self, request: Request<pb::GetReservationRequest>) -> Reply<pb::GetReservationResponse> {
        let caller = booker(&request)?;
        let id = convert::reservation_id(&request.into_inner().id).map_err(Error::from)?;
        let reservation = self.visible(&caller, &id).await?;
        Ok(Response::new(pb::GetReservationResponse {
            reservation: Some(reservation.into()),
        }))
    }

    async fn list_reservations(
        &self,
        request: Request<pb::ListReservationsRequest>,
    ) -> Reply<pb::ListReservationsResponse> {
        let caller = booker(&request)?;
        let (size, after) = convert::list_page(request.get_ref(), &caller.user_id).map_err(Error::from)?;
        let user = (!caller.admin).then_some(caller.user_id.as_str());
        let mut reservations = self.saga.store().list(user, after, size + 1).await?;
        let next_page_token = if reservations.len() > size as usize {
            reservations.truncate(size as usize);
            reservations
                .last()
                .map(|last| convert::next_page_token(last, &caller.user_id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListReservationsResponse {
            reservations: reservations.into_iter().map(Into::into).collect(),
            next_page_token,
        }))
    }

    async fn cancel_reservation(
        &self,
        request: Request<pb::CancelReservationRequest>,
    ) -> Reply<pb::CancelReservationResponse> {
        let caller = booker(&request)?;
        let deadline = Deadline::of_request(&request, self.checkout_timeout);
        let id = convert::reservation_id(&request.into_inner().id).map_err(Error::from)?;
        let reservation = self.visible(&caller, &id).await?;
        let why = if reservation.user_id == caller.user_id {
            cancelled::BY_CUSTOMER
        } else {
            cancelled::BY_ADMIN
        };
        let saga = self.saga.clone();
        let reservation = self
            .detached(deadline, async move { saga.cancel(reservation, why, deadline).await })
            .await?;
        Ok(Response::new(pb::CancelReservationResponse {
            reservation: Some(reservation.into()),
        }))
    }

    async fn list_unfinished_reservations(
        &self,
        request: Request<pb::ListUnfinishedReservationsRequest>,
    ) -> Reply<pb::ListUnfinishedReservationsResponse> {
        check(&request, Requirement::Admin)?;
        let (size, after) = convert::unfinished_page(request.get_ref()).map_err(Error::from)?;
        let mut sagas = self.saga.store().unfinished_sagas(after, size + 1).await?;
        let next_page_token = if sagas.len() > size as usize {
            sagas.truncate(size as usize);
            sagas.last().map(convert::next_unfinished_token).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListUnfinishedReservationsResponse {
            sagas: sagas.into_iter().map(Into::into).collect(),
            next_page_token,
        }))
    }

    async fn drive_reservation(
        &self,
        request: Request<pb::DriveReservationRequest>,
    ) -> Reply<pb::DriveReservationResponse> {
        check(&request, Requirement::Admin)?;
        let deadline = Deadline::of_request(&request, self.checkout_timeout);
        let (id, action) = convert::drive(request.get_ref()).map_err(Error::from)?;
        let status = self.saga.store().saga(&id).await?;
        let saga = self.saga.clone();
        let driven = self
            .detached(deadline, async move { admin::drive(&saga, status, action).await })
            .await?;
        Ok(Response::new(pb::DriveReservationResponse {
            saga: Some(driven.into()),
        }))
    }
}
