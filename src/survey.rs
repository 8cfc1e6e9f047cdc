//! The survey shared by every command: walk a root, group its v0 keys into
//! functions, read each `.runnable.yaml` and judge each function.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt, stream};

use crate::catalog::{Asset, Catalog, Category, FunctionAssets, Object};
use crate::error::{Error, Result};
use crate::function::{self, Judgement, Problem};
use crate::report::{Reporter, Stage, Work};
use crate::root::Root;
use crate::transfer;
use crate::v0;
use crate::plan::Rejection;
use crate::walk::{Listing, Skip, walk};

/// One function as the survey found and judged it.
#[derive(Debug)]
pub struct Surveyed {
    pub assets: FunctionAssets,
    pub judgement: Judgement,
}

/// What a root holds.
pub struct Survey {
    pub catalog: Catalog,
    /// The v0 functions (of the selected tenants), sorted.
    pub functions: Vec<Surveyed>,
    /// Objects that belong to neither layout (of the selected tenants).
    pub others: Vec<Object>,
    /// Warnings that belong to no function: other objects, unknown tenants,
    /// links and files the walker skipped.
    pub warnings: Vec<Problem>,
    /// Functions the walker could not address (names that are not UTF-8).
    pub rejections: Vec<Rejection>,
    /// Staging files of interrupted writes of SE2 objects, which migrate removes.
    pub stale: Vec<String>,
}

/// Walks `root` and judges its functions; `tenants`, when not empty, limits
/// the survey to those tenant identifiers.
pub async fn survey(root: &Root, tenants: &[String], jobs: usize, reporter: &dyn Reporter) -> Result<Survey> {
    let Listing { catalog, skipped } = walk(root, reporter).await?;
    let selected = |key: &str| tenants.is_empty() || tenants.iter().any(|t| key.split('/').next() == Some(t));
    let mut others = Vec::new();
    let mut assets = catalog.functions(|key, asset: Asset| {
        if matches!(asset.category, Category::Other | Category::Loose) && selected(key) {
            others.push(Object { key: key.into(), size: asset.size });
        }
    });
    assets.retain(|f| selected(&f.id.ident));

    let mut warnings: Vec<Problem> =
        others.iter().map(|o| Problem::new(&o.key, "matches nothing in the v0 or SE2 layout")).collect();
    let mut rejections = Vec::new();
    let mut stale = Vec::new();
    for skipped in skipped.into_iter().filter(|s| selected(&s.key)) {
        if skipped.is_stale_staging() {
            stale.push(skipped.key);
        } else if skipped.why == Skip::NotUtf8 {
            let function = skipped.key.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
            rejections.push(Rejection { function, key: skipped.key.clone(), reason: skipped.reason().into() });
        } else {
            warnings.push(Problem::new(&skipped.key, skipped.reason()));
        }
    }
    for tenant in tenants {
        if catalog.under(&format!("{tenant}/")).next().is_none() {
            warnings.push(Problem::new(format!("{tenant}/"), "--tenant names a tenant that is not under the root"));
        }
    }

    let keys: Vec<String> = assets.iter().flat_map(|f| f.runnables().map(|(o, _)| o.key.clone())).collect();
    reporter.start(Stage::Read, Some(Work { items: keys.len() as u64, bytes: 0 }));
    let texts: HashMap<String, Result<String, String>> = stream::iter(keys)
        .map(|key| async move {
            let text = read_runnable(root, &key).await?;
            reporter.advance(Stage::Read, 0);
            Ok::<_, Error>((key, text))
        })
        .buffer_unordered(jobs)
        .try_collect()
        .await?;
    reporter.finish(Stage::Read);

    let functions = assets
        .into_iter()
        .map(|assets| {
            let judgement = function::judge(&assets, |key| texts[key].clone());
            Surveyed { assets, judgement }
        })
        .collect();
    Ok(Survey { catalog, functions, others, warnings, rejections, stale })
}

/// Reads a `.runnable.yaml` as text; what makes it unusable is the inner error.
async fn read_runnable(root: &Root, key: &str) -> Result<Result<String, String>> {
    let fetched = match transfer::read_small(root, key, v0::MAX_RUNNABLE_BYTES).await {
        Ok(Some(fetched)) => fetched,
        Ok(None) => return Ok(Err("vanished while se2 was reading the root".into())),
        Err(Error::Object { reason, .. }) => return Ok(Err(reason)),
        Err(e) => return Err(e),
    };
    Ok(String::from_utf8(fetched.bytes.to_vec()).map_err(|_| "does not parse: not UTF-8 text".to_owned()))
}
