//! The in-process broker: the local stack's services, in one process, hand
//! their events to each other here. As on RabbitMQ, consumers subscribe by
//! queue name: a new subscriber to a queue takes it over (a restarted
//! service), and the queue outlives its subscriber. A queue can also be
//! declared before anyone subscribes ([`Bus::declare`]): the stack declares
//! its consumers' queues before any service starts publishing, so an event
//! published in the moment before a consumer subscribes waits in the outbox
//! instead of going to nobody.
//!
//! A publish goes to every queue one of whose patterns matches the routing
//! key (AMQP topic rules) and succeeds only once each queue's subscriber has
//! answered: applied, or refused for good (dead-lettered, which the consumer
//! logs and counts). A subscriber that asks for a retry, or a queue with no
//! live subscriber (not yet subscribed, or stopped), fails the publish, so the
//! relay keeps the event and tries again: nothing is lost while a consumer is
//! away. An event no declared queue matches is delivered to nobody, as a topic
//! exchange with no queue bound would drop it. (Unlike RabbitMQ's `mandatory`
//! publish, that is not a failure here: in the stack nothing downstream binds
//! the reservation events, and they would otherwise pile up in the outbox.)

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use super::{Event, Outcome, PublishError};

/// Deliveries one subscription buffers before a publish waits.
const SUBSCRIPTION_BUFFER: usize = 64;

/// The in-process broker; clones share it.
#[derive(Debug, Clone, Default)]
pub struct Bus {
    subscriptions: Arc<Mutex<Vec<Subscription>>>,
}

#[derive(Debug)]
struct Subscription {
    queue: String,
    patterns: Vec<String>,
    /// `None` while the queue is declared and nobody has subscribed yet.
    deliveries: Option<mpsc::Sender<Delivery>>,
}

/// One event handed to a subscriber, which must [`Delivery::answer`] it.
#[derive(Debug)]
pub struct Delivery {
    /// The event.
    pub event: Event,
    answer: oneshot::Sender<Outcome>,
}

impl Delivery {
    /// Tells the publisher what became of the event.
    pub fn answer(self, outcome: Outcome) {
        let _ = self.answer.send(outcome);
    }
}

impl Bus {
    /// Declares `queue`, bound to `patterns`, if it is not there yet: from now
    /// on a matching event fails to publish until a subscriber takes the queue.
    pub fn declare(&self, queue: &str, patterns: &[&str]) {
        let mut subscriptions = self.lock();
        if !subscriptions.iter().any(|s| s.queue == queue) {
            subscriptions.push(Subscription {
                queue: queue.to_owned(),
                patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
                deliveries: None,
            });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Subscription>> {
        self.subscriptions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes `queue`'s events, the queue bound to `patterns` (made now, or
    /// taken over from its earlier subscriber, with the new patterns).
    pub fn subscribe(&self, queue: &str, patterns: &[&str]) -> mpsc::Receiver<Delivery> {
        let (deliveries, receiver) = mpsc::channel(SUBSCRIPTION_BUFFER);
        let mut subscriptions = self.lock();
        subscriptions.retain(|s| s.queue != queue);
        subscriptions.push(Subscription {
            queue: queue.to_owned(),
            patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
            deliveries: Some(deliveries),
        });
        receiver
    }

    /// Delivers `event` to every matching subscription and waits for each answer.
    pub async fn publish(&self, event: &Event) -> Result<(), PublishError> {
        let targets: Vec<(String, Option<mpsc::Sender<Delivery>>)> = self
            .lock()
            .iter()
            .filter(|s| s.patterns.iter().any(|p| super::topic::matches(p, &event.routing_key)))
            .map(|s| (s.queue.clone(), s.deliveries.clone()))
            .collect();
        for (queue, target) in targets {
            let Some(target) = target else {
                return Err(PublishError::Unavailable(format!("queue {queue} has no consumer yet")));
            };
            let (answer, answered) = oneshot::channel();
            let delivery = Delivery {
                event: event.clone(),
                answer,
            };
            if target.send(delivery).await.is_err() {
                return Err(PublishError::Unavailable("a subscriber has stopped".into()));
            }
            match answered.await {
                Ok(Outcome::Applied | Outcome::Duplicate | Outcome::DeadLetter(_)) => {}
                Ok(Outcome::Retry(why)) => return Err(PublishError::Unavailable(why)),
                Err(_) => {
                    return Err(PublishError::Unavailable(
                        "a subscriber stopped before answering".into(),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(routing_key: &str) -> Event {
        Event {
            id: "e1".into(),
            routing_key: routing_key.into(),
            kind: "travel.test.v1.Nothing".into(),
            aggregate_id: "a".into(),
            sequence: 1,
            payload: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_declared_queue_nobody_has_subscribed_to_fails_the_publish_until_someone_does() {
        let bus = Bus::default();
        bus.declare("q", &["flight.*"]);

        let early = bus.publish(&event("flight.cancelled")).await;
        assert!(matches!(early, Err(PublishError::Unavailable(_))), "{early:?}");

        let mut deliveries = bus.subscribe("q", &["flight.*"]);
        let answering = tokio::spawn(async move {
            let delivery = deliveries.recv().await.expect("the event");
            let id = delivery.event.id.clone();
            delivery.answer(Outcome::Applied);
            id
        });
        bus.publish(&event("flight.cancelled")).await.expect("delivered");
        assert_eq!(answering.await.expect("subscriber"), "e1");
    }

    #[tokio::test]
    async fn a_queue_whose_subscriber_stopped_fails_the_publish_and_an_event_no_queue_matches_goes_to_nobody() {
        let bus = Bus::default();
        drop(bus.subscribe("q", &["flight.cancelled"]));

        let orphaned = bus.publish(&event("flight.cancelled")).await;
        assert!(matches!(orphaned, Err(PublishError::Unavailable(_))), "{orphaned:?}");
        bus.publish(&event("reservation.confirmed"))
            .await
            .expect("no queue matches: delivered to nobody");
    }
}
