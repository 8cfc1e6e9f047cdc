//! The one place where a migration writes. A run executes its plan through
//! a `Sink`: `StoreSink` makes each write, `DryRun` makes none, so a dry run
//! walks exactly the code of a real run.

use async_trait::async_trait;

use crate::error::Result;
use crate::plan::Write;
use crate::root::Root;
use crate::se2;
use crate::transfer;

#[async_trait]
pub trait Sink: Send + Sync {
    /// Called before the first write of a run that writes anything.
    async fn begin(&self) -> Result<()>;
    /// Makes one write of the plan.
    async fn write(&self, write: &Write) -> Result<()>;
    /// Called after the last write.
    async fn end(&self) -> Result<()>;
    /// Removes the staging file of an interrupted write.
    async fn remove(&self, key: &str) -> Result<()>;
}

/// Writes into the destination store, reading copies from the source.
///
/// `begin` leaves a journal object (`system/.se2-pending`) that `end` removes:
/// a run killed in between leaves it, and the next run then owes
/// `system/version` its bump even if it finds nothing else to write.
pub struct StoreSink<'a> {
    pub source: &'a Root,
    pub dest: &'a Root,
}

#[async_trait]
impl Sink for StoreSink<'_> {
    async fn begin(&self) -> Result<()> {
        let body = bytes::Bytes::from_static(b"a se2 migrate run is writing here; the next run completes it\n");
        transfer::put(self.dest, se2::PENDING_KEY, body, &Default::default()).await
    }

    async fn write(&self, write: &Write) -> Result<()> {
        match (&write.source, &write.body) {
            (Some(source), _) => {
                transfer::copy(self.source, self.dest, source, &write.destination, &write.digest, write.bytes).await
            }
            (None, Some(body)) => transfer::put(self.dest, &write.destination, body.clone(), &write.condition).await,
            (None, None) => unreachable!("a write copies or puts"),
        }
    }

    async fn end(&self) -> Result<()> {
        transfer::delete(self.dest, se2::PENDING_KEY).await
    }

    async fn remove(&self, key: &str) -> Result<()> {
        transfer::remove_staging(self.dest, key)
    }
}

/// Accepts every write and makes none.
pub struct DryRun;

#[async_trait]
impl Sink for DryRun {
    async fn begin(&self) -> Result<()> {
        Ok(())
    }

    async fn write(&self, _write: &Write) -> Result<()> {
        Ok(())
    }

    async fn end(&self) -> Result<()> {
        Ok(())
    }

    async fn remove(&self, _key: &str) -> Result<()> {
        Ok(())
    }
}
