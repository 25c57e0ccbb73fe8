//! The in-process broker: the local stack's services, in one process, hand
//! their events to each other here. As on RabbitMQ, consumers subscribe by
//! queue name: a new subscriber to a queue takes it over (a restarted
//! service), and the queue outlives its subscriber. A publish goes to every
//! queue one of whose patterns matches the routing key (AMQP topic rules) and
//! succeeds only once each queue's subscriber has answered: applied, or refused
//! for good (dead-lettered, which the consumer logs and counts). A subscriber
//! that asks for a retry, or a queue whose subscriber has stopped, fails the
//! publish, so the relay keeps the event and tries again: nothing is lost while
//! a consumer is away. An event no queue matches is delivered to nobody, as a
//! topic exchange with no queue bound would drop it.

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
    deliveries: mpsc::Sender<Delivery>,
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
    /// Takes `queue`'s events, the queue bound to `patterns` (made now, or
    /// taken over from its earlier subscriber, with the new patterns).
    pub fn subscribe(&self, queue: &str, patterns: &[&str]) -> mpsc::Receiver<Delivery> {
        let (deliveries, receiver) = mpsc::channel(SUBSCRIPTION_BUFFER);
        let mut subscriptions = self
            .subscriptions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        subscriptions.retain(|s| s.queue != queue);
        subscriptions.push(Subscription {
            queue: queue.to_owned(),
            patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
            deliveries,
        });
        receiver
    }

    /// Delivers `event` to every matching subscription and waits for each answer.
    pub async fn publish(&self, event: &Event) -> Result<(), PublishError> {
        let targets: Vec<mpsc::Sender<Delivery>> = {
            let subscriptions = self
                .subscriptions
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            subscriptions
                .iter()
                .filter(|s| s.patterns.iter().any(|p| super::topic::matches(p, &event.routing_key)))
                .map(|s| s.deliveries.clone())
                .collect()
        };
        for target in targets {
            let (answer, answered) = oneshot::channel();
            let delivery = Delivery {
                event: event.clone(),
                answer,
            };
            if target.send(delivery).await.is_err() {
                return Err(PublishError::Unavailable("a subscriber has stopped".into()));
            }
            match answered.await {
                Ok(Outcome::Applied | Outcome::DeadLetter(_)) => {}
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
