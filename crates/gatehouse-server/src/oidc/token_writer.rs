//! Group commit for issued tokens. Every client_credentials token is recorded (its `jti`, so
//! introspection and revocation work) together with its `token_issued` audit event. One
//! transaction per token made the SQLite commit, not the signature, the cost of a token
//! (bench/README.md, "Token endpoint"). Grants that arrive while a write is in flight wait
//! and go together in the next transaction, so a burst of N tokens costs one commit, while a
//! lone request is written at once. Each caller still learns whether its own record was
//! stored before it answers: nothing is acknowledged that is not committed.

use gatehouse_core::{IssuedGrant, Store, StoreError};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;

/// Most grants written in one transaction (two multi-row `INSERT`s; far below SQLite's and
/// PostgreSQL's limits on bound parameters).
const MAX_BATCH: usize = 64;

type Reply = oneshot::Sender<Result<(), StoreError>>;

#[derive(Default)]
struct Queue {
    waiting: Vec<(IssuedGrant, Reply)>,
    writing: bool,
}

/// Batches concurrent grants into shared transactions. One per server, in `Services`.
#[derive(Default)]
pub struct TokenWriter {
    queue: Mutex<Queue>,
}

impl std::fmt::Debug for TokenWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenWriter").finish_non_exhaustive()
    }
}

impl TokenWriter {
    /// Stores `grant` (its artefacts and event), possibly in one transaction with other
    /// grants waiting at the same time, and returns once it is committed.
    ///
    /// # Errors
    /// The store's error for the transaction that carried this grant.
    pub async fn issue(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        grant: IssuedGrant,
    ) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let lead = {
            let mut queue = self.lock()?;
            queue.waiting.push((grant, reply));
            !std::mem::replace(&mut queue.writing, true)
        };
        if lead {
            // A task of its own, so a client hanging up cannot cancel a write others wait on.
            tokio::spawn(Arc::clone(self).drain(Arc::clone(store)));
        }
        answer.await.unwrap_or(Err(StoreError::Internal))
    }

    fn lock(&self) -> Result<MutexGuard<'_, Queue>, StoreError> {
        self.queue.lock().map_err(|_| StoreError::Internal)
    }

    /// Writes batches until the queue is empty.
    async fn drain(self: Arc<Self>, store: Arc<dyn Store>) {
        let mut guard = Writing {
            writer: &self,
            finished: false,
        };
        loop {
            let batch: Vec<_> = {
                let Ok(mut queue) = self.lock() else { return };
                if queue.waiting.is_empty() {
                    queue.writing = false;
                    guard.finished = true;
                    return;
                }
                let take = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..take).collect()
            };
            write(&*store, batch).await;
        }
    }
}

/// Stores one batch and answers each grant's caller. When a shared transaction fails, each
/// grant is retried alone, so one bad record cannot fail the others.
async fn write(store: &dyn Store, batch: Vec<(IssuedGrant, Reply)>) {
    let (grants, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    let single = grants.len() == 1;
    let retry = (!single).then(|| grants.clone());
    let result = store.issue_oauth2_token_batch(grants).await;
    match (result, retry) {
        (Err(error), Some(grants)) => {
            tracing::warn!(%error, count = grants.len(), "batched token write failed; writing one by one");
            for (grant, reply) in grants.into_iter().zip(replies) {
                let _ = reply.send(store.issue_oauth2_token_batch(vec![grant]).await);
            }
        }
        (result, _) => {
            for reply in replies {
                let _ = reply.send(result.clone());
            }
        }
    }
}

/// While the draining task runs, `writing` is set. Should the task end abnormally (a panic
/// in the store), this resets it and fails the waiting grants instead of leaving them, and
/// every later grant, waiting for a writer that is gone.
struct Writing<'a> {
    writer: &'a TokenWriter,
    finished: bool,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Ok(mut queue) = self.writer.queue.lock() {
            queue.writing = false;
            queue.waiting.clear();
        }
    }
}
