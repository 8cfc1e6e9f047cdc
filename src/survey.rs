//! The survey shared by every command: walk a root, group its v0 keys into
//! functions, read each `.runnable.yaml` and judge each function.

use std::collections::{HashMap, HashSet};

use futures::{StreamExt, TryStreamExt, stream};

use crate::catalog::{Asset, Catalog, Category, FunctionAssets, Object};
use crate::error::{Error, Result};
use crate::function::{self, Judgement, Problem};
use crate::plan::Rejection;
use crate::report::{Reporter, Stage, Work};
use crate::root::Root;
use crate::transfer;
use crate::v0;
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
    let Listing { catalog, skipped } = walk(root, jobs, reporter).await?;
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
    // A function holding a name that is not UTF-8 is rejected whole: migrated,
    // it would leave that file behind while reported complete.
    let dirs: HashSet<String> = assets.iter().map(|f| f.id.dir()).collect();
    let mut unaddressable: HashMap<String, Problem> = HashMap::new();
    for skipped in skipped.into_iter().filter(|s| selected(&s.key)) {
        if skipped.is_stale_staging() {
            stale.push(skipped.key);
        } else if skipped.why == Skip::NotUtf8 {
            let function = skipped.key.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
            let problem = Problem::new(&skipped.key, skipped.reason());
            if dirs.contains(&function) {
                let first = unaddressable.entry(function).or_insert_with(|| problem.clone());
                if problem < *first {
                    *first = problem;
                }
            } else {
                rejections.push(Rejection { function, key: problem.key, reason: problem.reason });
            }
        } else {
            warnings.push(Problem::new(&skipped.key, skipped.reason()));
        }
    }
    for tenant in tenants {
        if catalog.under(&format!("{tenant}/")).next().is_none() {
            warnings.push(Problem::new(format!("{tenant}/"), "--tenant names a tenant that is not under the root"));
        }
    }

    let keys: Vec<String> = assets
        .iter()
        .filter(|f| !unaddressable.contains_key(&f.id.dir()))
        .flat_map(|f| f.runnables().map(|(o, _)| o.key.clone()))
        .collect();
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
            let judgement = match unaddressable.remove(&assets.id.dir()) {
                Some(problem) => Judgement { outcome: Err(problem), warnings: Vec::new() },
                None => function::judge(&assets, |key| texts[key].clone()),
            };
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

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::*;
    use crate::report::Silent;

    #[tokio::test]
    async fn a_function_holding_a_name_that_is_not_utf8_is_rejected_whole() {
        let dir = tempfile::tempdir().unwrap();
        let function = dir.path().join("t/ns/f");
        std::fs::create_dir_all(function.join("v1.0.0")).unwrap();
        let yaml = "name: f\nnamespace: ns\nlang: rust\nversion: v1.0.0\nfqfn: t#ns::f@v1.0.0\n";
        std::fs::write(function.join(".runnable.yaml"), yaml).unwrap();
        std::fs::write(function.join("v1.0.0/f.wasm"), "bin").unwrap();
        std::fs::write(function.join("v1.0.0").join(std::ffi::OsStr::from_bytes(b"notes\xff")), "x").unwrap();
        std::fs::create_dir_all(dir.path().join(std::ffi::OsStr::from_bytes(b"t/ns/g\xfe"))).unwrap();

        let root = Root::directory("test", dir.path()).unwrap();
        let survey = survey(&root, &[], 2, &Silent).await.unwrap();
        assert_eq!(survey.functions.len(), 1);
        let problem = survey.functions[0].judgement.outcome.as_ref().unwrap_err();
        assert_eq!(problem.key, "t/ns/f/v1.0.0/notes\u{FFFD}");
        assert!(problem.reason.contains("not UTF-8"), "{problem}");
        // A directory whose own name is not UTF-8 holds no function se2 can see: it is rejected by name.
        let rejected: Vec<&str> = survey.rejections.iter().map(|r| r.function.as_str()).collect();
        assert_eq!(rejected, ["t/ns/g\u{FFFD}"]);
    }
}
