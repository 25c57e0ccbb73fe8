//! A fake auth service on 127.0.0.1:0 for the clients of auth: it publishes the
//! signing keys a test chooses (or fails, when down), issues service tokens (or
//! stalls, or fails), and counts both kinds of call.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::{Request, Response, Status};

use crate::jwt::{ALGORITHM, KeyPair, PublicKey};
use crate::pb::auth::v1 as pb;
use crate::pb::auth::v1::auth_service_server::{AuthService, AuthServiceServer};
use crate::{Clock, ManualClock};

/// The life of the service tokens the fake issues, as the real auth's default.
pub const FAKE_TOKEN_LIFE: Duration = Duration::from_secs(15 * 60);

/// How the fake answers IssueServiceToken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TokenAnswer {
    /// A token `t<n>` (the n-th call), valid for [`FAKE_TOKEN_LIFE`] on the fake's clock.
    Answer = 0,
    /// Accept the call and never answer.
    Stall = 1,
    /// RESOURCE_EXHAUSTED.
    Fail = 2,
}

/// The fake's state, which the test drives and inspects.
#[derive(Debug)]
pub struct FakeAuth {
    /// The clock the issued tokens' expiry is read from.
    pub clock: ManualClock,
    /// When set, GetSigningKeys fails with UNAVAILABLE.
    pub down: AtomicBool,
    published: Mutex<Vec<PublicKey>>,
    fetches: AtomicUsize,
    answer: AtomicU8,
    calls: AtomicUsize,
}

impl FakeAuth {
    /// Starts the fake on a port bound before it is spawned; returns its state and URL.
    /// It publishes no keys and answers token requests until told otherwise.
    ///
    /// # Panics
    /// When no local port can be bound.
    pub async fn spawn() -> (Arc<Self>, String) {
        Self::spawn_answering(TokenAnswer::Answer).await
    }

    /// [`FakeAuth::spawn`], answering token requests as `answer` from the
    /// start: a client that asks for a token as soon as it is made (the
    /// reservation's renewal task) would otherwise race a later [`FakeAuth::set`].
    ///
    /// # Panics
    /// When no local port can be bound.
    pub async fn spawn_answering(answer: TokenAnswer) -> (Arc<Self>, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Self {
            clock: super::manual_clock(),
            down: AtomicBool::new(false),
            published: Mutex::default(),
            fetches: AtomicUsize::new(0),
            answer: AtomicU8::new(answer as u8),
            calls: AtomicUsize::new(0),
        });
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(AuthServiceServer::new(Fake(state.clone())))
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        (state, url)
    }

    /// Publishes exactly `keys` from now on.
    pub fn publish(&self, keys: &[&KeyPair]) {
        *self.published.lock().expect("lock") = keys.iter().map(|k| k.public()).collect();
    }

    /// How many GetSigningKeys calls arrived.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Answers IssueServiceToken as `answer` from now on.
    pub fn set(&self, answer: TokenAnswer) {
        self.answer.store(answer as u8, Ordering::SeqCst);
    }

    /// How many IssueServiceToken calls arrived.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Clone)]
struct Fake(Arc<FakeAuth>);

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not in this fake"))
}

#[tonic::async_trait]
impl AuthService for Fake {
    async fn register(&self, _: Request<pb::RegisterRequest>) -> Result<Response<pb::RegisterResponse>, Status> {
        unimplemented()
    }
    async fn login(&self, _: Request<pb::LoginRequest>) -> Result<Response<pb::LoginResponse>, Status> {
        unimplemented()
    }
    async fn refresh(&self, _: Request<pb::RefreshRequest>) -> Result<Response<pb::RefreshResponse>, Status> {
        unimplemented()
    }
    async fn logout(&self, _: Request<pb::LogoutRequest>) -> Result<Response<pb::LogoutResponse>, Status> {
        unimplemented()
    }
    async fn get_signing_keys(
        &self,
        _: Request<pb::GetSigningKeysRequest>,
    ) -> Result<Response<pb::GetSigningKeysResponse>, Status> {
        self.0.fetches.fetch_add(1, Ordering::SeqCst);
        if self.0.down.load(Ordering::SeqCst) {
            return Err(Status::unavailable("auth is down"));
        }
        let keys = self
            .0
            .published
            .lock()
            .expect("lock")
            .iter()
            .map(|k| pb::SigningKey {
                kid: k.kid.clone(),
                alg: ALGORITHM.into(),
                public_key: k.to_bytes().to_vec(),
                ..Default::default()
            })
            .collect();
        Ok(Response::new(pb::GetSigningKeysResponse { keys }))
    }
    async fn issue_service_token(
        &self,
        _: Request<pb::IssueServiceTokenRequest>,
    ) -> Result<Response<pb::IssueServiceTokenResponse>, Status> {
        let n = self.0.calls.fetch_add(1, Ordering::SeqCst) + 1;
        match self.0.answer.load(Ordering::SeqCst) {
            a if a == TokenAnswer::Stall as u8 => std::future::pending().await,
            a if a == TokenAnswer::Fail as u8 => Err(Status::resource_exhausted("too many attempts")),
            _ => Ok(Response::new(pb::IssueServiceTokenResponse {
                access_token: format!("t{n}"),
                access_token_expires_at: Some(self.0.clock.now().plus(FAKE_TOKEN_LIFE).into()),
                token_type: "Bearer".into(),
            })),
        }
    }
}
