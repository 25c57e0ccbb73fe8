//! Events: the flight service's FlightCancelled makes the reservation service
//! cancel every CONFIRMED reservation on the flight, once, through the saga;
//! and the reservation service's own events (ReservationConfirmed…) leave
//! through its outbox. In process always; against the real RabbitMQ when
//! `TRAVEL_TEST_AMQP_URL` names one (CI sets it).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeleteOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use prost::Message as _;
use tokio_util::sync::CancellationToken;
use travel::events::consume::{ConsumeMetrics, Subscription};
use travel::events::{Broker, EXCHANGE, Event, Outcome, PublishError};
use travel::pb::reservation::v1 as pb;
use travel::testing::proxy::{Gate, Proxy};
use travel_reservation::store::FlightCancellation;

use crate::helpers::{Client, Reservations, RoomType, World, bundle, checkout, customer_at, get, state};

/// How long an effect may take to be seen before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// RabbitMQ for the tests that need one, if this run has it.
fn amqp_url() -> Option<String> {
    std::env::var("TRAVEL_TEST_AMQP_URL").ok().filter(|u| !u.is_empty())
}

/// How many reservations `reservations` finished cancelling
/// (`travel_reservations_finished_total{state="cancelled"}`).
fn cancellations_finished(reservations: &Reservations) -> f64 {
    let labels = [("state", "cancelled"), ("reason", "none")];
    travel::testing::metrics::value(&reservations.metrics, "travel_reservations_finished_total", &labels)
}

/// How many FlightCancelled the reservation service's consumer handled with `outcome`
/// (`travel_events_consumed_total`).
fn flight_cancellations_consumed(reservations: &Reservations, outcome: &str) -> f64 {
    let labels = [("kind", "travel.flight.v1.FlightCancelled"), ("outcome", outcome)];
    travel::testing::metrics::value(&reservations.metrics, "travel_events_consumed_total", &labels)
}

/// Waits until reservation `id` is in `wanted`, and returns it.
async fn until(client: &Client, id: &str, wanted: pb::ReservationState) -> pb::Reservation {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let r = get(client, id).await.expect("get reservation");
        if state(&r) == wanted {
            return r;
        }
        assert!(tokio::time::Instant::now() < deadline, "{id} is still {:?}", state(&r));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `n` confirmed bundles of one seat on `flight_id` and one room-night.
async fn book(
    world: &World,
    reservations: &Reservations,
    flight_id: &str,
    n: usize,
) -> (Vec<pb::Reservation>, RoomType) {
    let room_type = world.hotel.create(i32::try_from(n).expect("a few") + 5, "EUR").await;
    let customer = reservations.customer("alice");
    let mut out = Vec::new();
    for i in 0..n {
        let r = checkout(
            &customer,
            bundle(&format!("ev-{flight_id}-{i}"), flight_id, 1, &room_type, 1, 1),
        )
        .await
        .expect("checkout");
        assert_eq!(state(&r), pb::ReservationState::Confirmed, "{r:?}");
        out.push(r);
    }
    (out, room_type)
}

#[tokio::test]
async fn a_flight_cancellation_delivered_twice_cancels_each_reservation_once() {
    let world = World::start().await;
    let bus = world.events.local.clone().expect("the world's bus");
    // A second subscriber keeps a copy of the event (and lets it through).
    let (copy, copied) = tokio::sync::oneshot::channel::<Event>();
    let mut spy = bus.subscribe("test.spy", &["flight.cancelled"]);
    tokio::spawn(async move {
        let mut copy = Some(copy);
        while let Some(delivery) = spy.recv().await {
            if let Some(copy) = copy.take() {
                let _ = copy.send(delivery.event.clone());
            }
            delivery.answer(Outcome::Applied);
        }
    });
    let reservations = world.reservations().await;
    let flight_id = world.flight.create(10, "EUR").await;
    let (booked, rooms) = book(&world, &reservations, &flight_id, 3).await;
    let customer = reservations.customer("alice");

    world.flight.cancel(&flight_id, "storm").await;

    let event = copied.await.expect("the FlightCancelled");
    for r in &booked {
        let r = until(&customer, &r.id, pb::ReservationState::Cancelled).await;
        assert_eq!(r.cancel_reason, "flight cancelled by the airline");
    }
    // Delivered again, through the bus and straight to the store: nothing changes.
    bus.publish(&event).await.expect("a redelivery is answered");
    assert_eq!(flight_cancellations_consumed(&reservations, "applied"), 1.0);
    assert_eq!(
        flight_cancellations_consumed(&reservations, "duplicate"),
        1.0,
        "the redelivery was found in the inbox"
    );
    let again = reservations
        .store
        .apply_flight_cancelled(
            &FlightCancellation {
                event: &event,
                flight_id: &flight_id,
                reason: "storm",
            },
            travel::types::UnixMillis::now(),
        )
        .await
        .expect("apply again");
    assert_eq!(again, None, "an event in the inbox is not applied twice");
    assert_eq!(world.flight.inventory(&flight_id).await, (10, 0, 0));
    assert_eq!(
        world.hotel.inventory(&rooms, 0).await,
        (8, 0, 0),
        "every room-night back"
    );
    for r in &booked {
        let r = get(&customer, &r.id).await.expect("get");
        assert_eq!(state(&r), pb::ReservationState::Cancelled);
    }
    // A new checkout on the cancelled flight fails, naming why.
    let room_type = world.hotel.create(5, "EUR").await;
    let late = checkout(&customer, bundle("late", &flight_id, 1, &room_type, 1, 1))
        .await
        .expect("checkout");
    assert_eq!(state(&late), pb::ReservationState::Failed);
    assert!(late.failure_reason.contains("cancelled by the airline"), "{late:?}");
    reservations.stop().await;
}

/// The messages on `queue` (RabbitMQ), taken off it.
async fn drain(url: &str, queue: &str) -> Vec<lapin::message::BasicGetMessage> {
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    let mut got = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
    {
        got.push(message);
    }
    got
}

async fn delete_queues(url: &str, queues: &[&str]) {
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    for queue in queues {
        let _ = channel
            .queue_delete((*queue).into(), QueueDeleteOptions::default())
            .await;
    }
}

#[tokio::test]
async fn over_rabbitmq_a_cancelled_flight_cancels_its_reservations_and_a_malformed_message_is_dead_lettered() {
    let Some(url) = amqp_url() else {
        eprintln!("TRAVEL_TEST_AMQP_URL is not set: skipped (CI runs it against RabbitMQ)");
        return;
    };
    let world = World::start_on_broker(&url).await;
    let queue = world.events_queue.clone();
    let dead = format!("{queue}.dead");
    let reservations = world.reservations().await;
    let customer = reservations.customer("alice");
    let first = world.flight.create(60, "EUR").await;
    let (booked, rooms) = book(&world, &reservations, &first, 50).await;

    // First moved (a FlightRescheduled no queue of the platform takes: the broker
    // keeps it, and the cancellation behind it is not held back), then cancelled.
    world.flight.reschedule_an_hour_later(&first).await;
    world.flight.cancel(&first, "crew shortage").await;
    for r in &booked {
        let r = until(&customer, &r.id, pb::ReservationState::Cancelled).await;
        assert_eq!(r.cancel_reason, "flight cancelled by the airline");
    }
    assert_eq!(world.flight.inventory(&first).await, (60, 0, 0));
    assert_eq!(
        world.hotel.inventory(&rooms, 0).await,
        (55, 0, 0),
        "every room-night back"
    );

    // A message that is no event, on the queue: dead-lettered, and the consumer goes on.
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .basic_publish(
            EXCHANGE.into(),
            "flight.cancelled".into(),
            BasicPublishOptions::default(),
            b"not an event",
            BasicProperties::default(),
        )
        .await
        .expect("publish");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let dead_lettered = loop {
        let got = drain(&url, &dead).await;
        if !got.is_empty() {
            break got;
        }
        assert!(tokio::time::Instant::now() < deadline, "nothing reached {dead}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(dead_lettered[0].delivery.data, b"not an event");
    let second = world.flight.create(10, "EUR").await;
    let (after, _) = book(&world, &reservations, &second, 1).await;
    world.flight.cancel(&second, "").await;
    until(&customer, &after[0].id, pb::ReservationState::Cancelled).await;

    reservations.stop().await;
    delete_queues(&url, &[&queue, &dead]).await;
}

#[tokio::test]
async fn over_rabbitmq_an_event_no_queue_takes_is_a_failed_publish() {
    let Some(url) = amqp_url() else {
        eprintln!("TRAVEL_TEST_AMQP_URL is not set: skipped");
        return;
    };
    let broker = travel::events::amqp::Amqp::new(&url);
    let event = Event::new(
        uuid::Uuid::new_v4().to_string(),
        &format!("nobody.{}", uuid::Uuid::new_v4().simple()),
        "travel.test.v1.Nothing",
        "x",
        1,
        &pb::ReservationFailed::default(),
    );
    let published = broker.publish(&event).await;
    assert!(matches!(published, Err(PublishError::Unroutable(_))), "{published:?}");
}

/// Declares the platform's exchanges and a queue `queue` bound to `exchange` by `key`.
async fn bind_test_queue(url: &str, queue: &str, exchange: &str, key: &str) {
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    travel::events::amqp::declare_exchanges(&channel)
        .await
        .expect("the exchanges");
    channel
        .queue_declare(queue.into(), Default::default(), Default::default())
        .await
        .expect("the queue");
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            Default::default(),
            Default::default(),
        )
        .await
        .expect("the binding");
}

/// An outbox (a fresh flight database) holding `events`, and a relay of it to
/// RabbitMQ at `url` with its metrics in `registry`; the database lives as long
/// as the first value.
async fn relay_of(
    url: &str,
    events: &[&Event],
    registry: &prometheus::Registry,
) -> (
    travel::testing::TestDatabase,
    travel::db::Database,
    travel::events::relay::Relay,
) {
    use travel::events::relay::{Relay, RelayMetrics};
    use travel::hold::service::Inventory as _;

    let outbox_db = travel::testing::TestDatabase::new("flight").await;
    let db = travel::db::Database::connect(
        &outbox_db.url,
        &travel::config::DatabaseArgs::default(),
        travel_flight::Flights::migrations(),
    )
    .await
    .expect("the outbox's database");
    let mut tx = db.begin_write().await.expect("begin");
    for event in events {
        travel::events::outbox::record(&mut tx, event, travel::types::UnixMillis::now())
            .await
            .expect("record");
    }
    tx.commit().await.expect("commit");
    let relay = Relay::new(
        db.clone(),
        Broker::Amqp(travel::events::amqp::Amqp::new(url)),
        std::sync::Arc::new(travel::SystemClock),
        Duration::from_secs(3600),
        Duration::from_secs(3600),
        RelayMetrics::register(registry).expect("metrics"),
    );
    (outbox_db, db, relay)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_rabbitmq_an_unroutable_event_holds_back_only_the_later_events_about_the_same_aggregate() {
    let Some(url) = amqp_url() else {
        eprintln!("TRAVEL_TEST_AMQP_URL is not set: skipped");
        return;
    };
    // Arrange: a queue of the test's own bound to one routing key, and an
    // outbox whose first event (about "a") has a key no queue takes.
    let queue = format!("test.relay.{}", uuid::Uuid::new_v4());
    let bound = format!("test.bound.{}", uuid::Uuid::new_v4().simple());
    bind_test_queue(&url, &queue, EXCHANGE, &bound).await;
    let nobody = format!("nobody.{}", uuid::Uuid::new_v4().simple());
    let events = [
        ("a", 1, nobody.as_str()),
        ("b", 1, bound.as_str()),
        ("a", 2, bound.as_str()),
        ("b", 2, bound.as_str()),
    ]
    .map(|(aggregate, sequence, key)| {
        Event::new(
            uuid::Uuid::now_v7().to_string(),
            key,
            "travel.test.v1.Nothing",
            aggregate,
            sequence,
            &pb::ReservationFailed::default(),
        )
    });
    let registry = prometheus::Registry::new();
    let (_outbox_db, db, relay) = relay_of(&url, &events.each_ref(), &registry).await;

    // Act
    let published = relay.flush().await.expect("a returned event does not fail the pass");

    // Assert: "b" went through in order; "a" waits whole, behind its first event.
    assert_eq!(published, 2);
    let arrived: Vec<String> = drain(&url, &queue)
        .await
        .iter()
        .filter_map(|m| {
            m.delivery
                .properties
                .message_id()
                .as_ref()
                .map(|id| id.as_str().to_owned())
        })
        .collect();
    assert_eq!(arrived, [events[1].id.clone(), events[3].id.clone()]);
    assert_eq!(travel::events::outbox::count_pending(&db).await.expect("pending"), 2);
    let failures = travel::testing::metrics::value(&registry, "travel_events_publish_failures_total", &[]);
    assert!(failures >= 1.0, "the returned publish counts as a failure");
    // Tried again (or not yet, in its backoff): "a" stays whole and "b" is not sent twice.
    assert_eq!(relay.flush().await.expect("flush"), 0);
    assert_eq!(travel::events::outbox::count_pending(&db).await.expect("pending"), 2);
    assert!(drain(&url, &queue).await.is_empty(), "nothing more arrived");
    delete_queues(&url, &[&queue]).await;
}

#[tokio::test]
async fn over_rabbitmq_a_reservation_event_no_queue_is_bound_for_is_kept_by_the_broker_and_a_flight_event_waits() {
    let Some(url) = amqp_url() else {
        eprintln!("TRAVEL_TEST_AMQP_URL is not set: skipped");
        return;
    };
    // Arrange: no queue is bound to travel.events for either key. A queue of
    // the test's own on the alternate exchange sees what reaches it with the
    // reservation key (the broker's own unrouted queue is shared with every
    // other test, so it is not read here).
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let reservation_key = format!("reservation.test{tag}");
    let flight_key = format!("flight.test{tag}");
    let witness = format!("test.unrouted.{tag}");
    bind_test_queue(&url, &witness, travel::events::UNROUTED_EXCHANGE, &reservation_key).await;
    let kept = Event::new(
        uuid::Uuid::now_v7().to_string(),
        &reservation_key,
        "travel.reservation.v1.ReservationConfirmed",
        "r",
        1,
        &pb::ReservationFailed::default(),
    );
    let waits = Event::new(
        uuid::Uuid::now_v7().to_string(),
        &flight_key,
        "travel.flight.v1.FlightCancelled",
        "f",
        1,
        &pb::ReservationFailed::default(),
    );
    let (_outbox_db, db, relay) = relay_of(&url, &[&kept, &waits], &prometheus::Registry::new()).await;

    // Act
    let published = relay.flush().await.expect("flush");

    // Assert: the reservation event was confirmed and went to the alternate
    // exchange; the flight event came back and is still in the outbox.
    assert_eq!(published, 1, "only the reservation event counts as published");
    let arrived: Vec<String> = drain(&url, &witness)
        .await
        .iter()
        .filter_map(|m| {
            m.delivery
                .properties
                .message_id()
                .as_ref()
                .map(|id| id.as_str().to_owned())
        })
        .collect();
    assert_eq!(arrived, vec![kept.id]);
    let pending = travel::events::outbox::pending_after(&db, 0, 10)
        .await
        .expect("pending");
    assert_eq!(
        pending.into_iter().map(|r| r.event.id).collect::<Vec<_>>(),
        vec![waits.id]
    );
    delete_queues(&url, &[&witness]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_rabbitmq_events_recorded_while_the_broker_is_down_arrive_once_each_in_order() {
    let Some(url) = amqp_url() else {
        eprintln!("TRAVEL_TEST_AMQP_URL is not set: skipped");
        return;
    };
    // The services reach RabbitMQ through a proxy, cut for now: the broker is down for them.
    let broker_uri: lapin::uri::AMQPUri = url.parse().expect("TRAVEL_TEST_AMQP_URL");
    let target = tokio::net::lookup_host((broker_uri.authority.host.as_str(), broker_uri.authority.port))
        .await
        .expect("the broker's address")
        .next()
        .expect("an address");
    let proxy = Proxy::start(target).await;
    proxy.cut();
    let user = &broker_uri.authority.userinfo;
    let vhost = if broker_uri.vhost == "/" {
        "%2f".to_owned()
    } else {
        broker_uri.vhost.clone()
    };
    let down_url = format!("amqp://{}:{}@{}/{vhost}", user.username, user.password, proxy.addr());
    let world = World::start_on_broker(&down_url).await;
    let reservations = world.reservations().await;
    // Downstream: a queue of the test's own for the reservation events, made before they are published.
    let downstream = format!("test.downstream.{}", uuid::Uuid::new_v4());
    let seen: Arc<Mutex<Vec<Event>>> = Arc::default();
    let stop = CancellationToken::new();
    // The ids of the probes and fences that came through the consumer.
    let (ready_tx, mut ready) = tokio::sync::mpsc::unbounded_channel::<String>();
    {
        let (seen, stop, url, downstream) = (seen.clone(), stop.clone(), url.clone(), downstream.clone());
        let metrics = ConsumeMetrics::register(&prometheus::Registry::new()).expect("metrics");
        let subscription = Subscription {
            queue: downstream,
            patterns: vec!["reservation.confirmed".into()],
        };
        tokio::spawn(async move {
            // Declared by the consumer before its first delivery; the first
            // message marks it ready (see below).
            travel::events::consume::run(
                Broker::Amqp(travel::events::amqp::Amqp::new(&url)),
                subscription,
                metrics,
                stop,
                move |event| {
                    let (seen, ready_tx) = (seen.clone(), ready_tx.clone());
                    async move {
                        if event.kind == "travel.test.v1.Ready" {
                            let _ = ready_tx.send(event.id);
                        } else {
                            seen.lock().expect("seen").push(event);
                        }
                        Outcome::Applied
                    }
                },
            )
            .await;
        });
    }
    // The queue exists once a probe comes back through the consumer. Until
    // then a probe goes to the unrouted queue (a reservation event no queue
    // is bound for is kept there, not returned): each try sends a new one.
    let probe_broker = travel::events::amqp::Amqp::new(&url);
    let probe = |id: &str| {
        Event::new(
            id,
            "reservation.confirmed",
            "travel.test.v1.Ready",
            "probe",
            1,
            &pb::ReservationFailed::default(),
        )
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the downstream queue never appeared"
        );
        let _ = probe_broker.publish(&probe(&uuid::Uuid::new_v4().to_string())).await;
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(200), ready.recv()).await {
            break;
        }
    }

    // Act: checkouts confirm while the broker is unreachable…
    let flight_id = world.flight.create(110, "EUR").await;
    let (booked, _) = book(&world, &reservations, &flight_id, 100).await;
    // The relay has tried and failed, and kept them.
    let failures = || {
        reservations
            .metrics
            .gather()
            .iter()
            .filter(|f| f.name() == "travel_events_publish_failures_total")
            .flat_map(|f| f.get_metric().iter().map(|m| m.get_counter().get_value()))
            .sum::<f64>()
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while failures() < 1.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay never tried the unreachable broker"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // …then it comes back.
    proxy.restore();

    // Assert: every ReservationConfirmed of ours arrives, once each.
    let ours = |seen: &[Event]| -> Vec<String> {
        seen.iter()
            .filter(|e| booked.iter().any(|r| r.id == e.aggregate_id))
            .map(|e| e.aggregate_id.clone())
            .collect()
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let got = ours(&seen.lock().expect("seen"));
        if got.len() >= booked.len() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {} arrived",
            got.len(),
            booked.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Late duplicates would come now: once the relay has marked every event
    // sent, a fence published after that reaches the consumer after them.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while travel::testing::metrics::value(&reservations.metrics, "travel_outbox_pending", &[]) > 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay never marked them sent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fence = probe(&uuid::Uuid::new_v4().to_string());
    probe_broker.publish(&fence).await.expect("the fence");
    // Only this fence counts: a late probe from above proves nothing.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let came = tokio::time::timeout(remaining, ready.recv()).await;
        match came {
            Ok(Some(id)) if id == fence.id => break,
            Ok(Some(_)) => continue,
            _ => panic!("the fence never came through"),
        }
    }
    let seen = seen.lock().expect("seen").clone();
    let got = ours(&seen);
    let wanted: Vec<String> = booked.iter().map(|r| r.id.clone()).collect();
    assert_eq!(got, wanted, "each once, in the order they were confirmed");
    for event in seen.iter().filter(|e| wanted.contains(&e.aggregate_id)) {
        let message = pb::ReservationConfirmed::decode(event.payload.as_slice()).expect("a ReservationConfirmed");
        assert_eq!(
            (message.reservation_id.as_str(), message.sequence),
            (event.aggregate_id.as_str(), 1)
        );
        assert_eq!(message.event_id, event.id);
    }
    stop.cancel();
    reservations.stop().await;
    delete_queues(&url, &[&downstream, &format!("{downstream}.dead")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_service_killed_while_cancelling_a_flights_reservations_leaves_them_to_its_successor() {
    // Arrange: ten confirmed bundles, booked through a first service, which then stops.
    let world = World::start().await;
    let flight_id = world.flight.create(10, "EUR").await;
    let booking = world.reservations().await;
    let (booked, rooms) = book(&world, &booking, &flight_id, 10).await;
    booking.stop().await;
    // The one that takes the flight's event calls the hotel through a gate
    // that holds every call: its cancellations stop half done, seats released.
    let hotel: std::net::SocketAddr = world.hotel.url.trim_start_matches("http://").parse().expect("hotel");
    let gate = Gate::start(hotel);
    let gate_url = gate.url();
    let taker = world.reservation_replica(|c| c.hotel_url = gate_url).await;
    let customer = customer_at(&taker.url(), &world.clock, "alice");

    // Act: the airline cancels; the event is applied; the service dies mid-way.
    world.flight.cancel(&flight_id, "volcanic ash").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    for r in &booked {
        while get(&customer, &r.id).await.expect("get").cancel_reason.is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} was never set to be cancelled",
                r.id
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    taker.kill();

    // Assert: a successor finishes every cancellation, each once.
    let successor = world.reservations().await;
    let left = successor.store.unfinished_sagas(None, 100).await.expect("unfinished");
    assert_eq!(left.len(), booked.len(), "all ten are still half cancelled");
    world.leases_run_out();
    // (Its own start-up pass may run now too: both take turns.)
    successor.recover().await;
    let customer = successor.customer("alice");
    for r in &booked {
        let r = get(&customer, &r.id).await.expect("get");
        assert_eq!(state(&r), pb::ReservationState::Cancelled, "{r:?}");
        assert_eq!(r.cancel_reason, "flight cancelled by the airline");
    }
    assert_eq!(successor.recover().await.finished, 0, "nothing is left to cancel twice");
    let cancelled = cancellations_finished(&successor);
    assert_eq!(
        cancelled,
        booked.len() as f64,
        "each reservation finished cancelling once"
    );
    assert_eq!(world.flight.inventory(&flight_id).await, (10, 0, 0));
    assert_eq!(
        world.hotel.inventory(&rooms, 0).await,
        (15, 0, 0),
        "every room-night back"
    );
    successor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_killed_between_publishing_and_marking_sent_publishes_again_and_the_event_is_applied_once() {
    use travel::events::relay::{Relay, RelayMetrics};
    use travel::hold::service::Inventory as _;

    // Arrange: three confirmed bundles; their flight's FlightCancelled in an
    // outbox of its own (a flight database the test relays itself).
    let world = World::start().await;
    let reservations = world.reservations().await;
    let flight_id = world.flight.create(10, "EUR").await;
    let (booked, _) = book(&world, &reservations, &flight_id, 3).await;
    let outbox_db = travel::testing::TestDatabase::new("flight").await;
    let db = travel::db::Database::connect(
        &outbox_db.url,
        &travel::config::DatabaseArgs::default(),
        travel_flight::Flights::migrations(),
    )
    .await
    .expect("the outbox's database");
    let event_id = uuid::Uuid::now_v7().to_string();
    let message = travel::pb::flight::v1::FlightCancelled {
        event_id: event_id.clone(),
        flight_id: flight_id.clone(),
        sequence: 1,
        ..Default::default()
    };
    let event = Event::new(
        &event_id,
        "flight.cancelled",
        "travel.flight.v1.FlightCancelled",
        &flight_id,
        1,
        &message,
    );
    let mut tx = db.begin_write().await.expect("begin");
    travel::events::outbox::record(&mut tx, &event, travel::types::UnixMillis::now())
        .await
        .expect("record");
    tx.commit().await.expect("commit");
    let bus = world.events.local.clone().expect("the world's bus");
    let relay = |registry: &prometheus::Registry| {
        Relay::new(
            db.clone(),
            Broker::Local(bus.clone()),
            std::sync::Arc::new(travel::SystemClock),
            Duration::from_secs(3600),
            Duration::from_secs(3600),
            RelayMetrics::register(registry).expect("metrics"),
        )
    };
    // A second queue, bound after the reservation service's (so served after
    // it), whose subscriber kills the relay as soon as the event reaches it:
    // the reservation service has applied it, the relay has not marked it sent.
    let mut spy = bus.subscribe("test.killer", &["flight.cancelled"]);
    let first = relay(&prometheus::Registry::new());
    let running = tokio::spawn(async move { first.flush().await });
    let delivery = spy.recv().await.expect("the event, first time");
    running.abort();
    assert!(running.await.expect_err("killed").is_cancelled());
    drop(delivery); // never answered

    // Act: a new relay of the same outbox.
    let second = relay(&prometheus::Registry::new());
    let flushing = tokio::spawn(async move { second.flush().await });
    let again = spy.recv().await.expect("the event, again");
    assert_eq!(again.event.id, event_id, "the same event, published again");
    again.answer(Outcome::Applied);
    assert_eq!(flushing.await.expect("relay").expect("flush"), 1);
    assert_eq!(
        (
            flight_cancellations_consumed(&reservations, "applied"),
            flight_cancellations_consumed(&reservations, "duplicate")
        ),
        (1.0, 1.0),
        "applied the first time, found in the inbox the second"
    );

    // Assert: sent now; every reservation cancelled, each once.
    assert_eq!(travel::events::outbox::count_pending(&db).await.expect("pending"), 0);
    // Sent rows are kept for the retention, then pruned.
    assert_eq!(
        relay(&prometheus::Registry::new()).prune().await.expect("prune"),
        0,
        "kept an hour"
    );
    // A relay whose clock is years later (the test clock starts in 2030), with no retention.
    let pruning = Relay::new(
        db.clone(),
        Broker::Local(bus.clone()),
        std::sync::Arc::new(travel::testing::manual_clock()),
        Duration::from_secs(3600),
        Duration::ZERO,
        RelayMetrics::register(&prometheus::Registry::new()).expect("metrics"),
    );
    assert_eq!(pruning.prune().await.expect("prune"), 1, "pruned with no retention");
    let customer = reservations.customer("alice");
    for r in &booked {
        until(&customer, &r.id, pb::ReservationState::Cancelled).await;
    }
    let cancelled = cancellations_finished(&reservations);
    assert_eq!(cancelled, booked.len() as f64);
    reservations.stop().await;
}
