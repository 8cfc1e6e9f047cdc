//! Benchmark driver: builds a `memory://` root of about a million keys and
//! runs `se2 inventory` and `se2 migrate --dry-run` on it through the
//! library, printing each one's wall time. Run it under `/usr/bin/time -v`
//! for peak RSS (scripts/bench.sh does): `cargo run --release --example
//! million_keys -- [KEYS] [inventory|dry-run|both]`.

use std::time::Instant;

use object_store::{ObjectStoreExt, PutPayload};
use se2::report::Silent;
use se2::{MigrateOptions, Root};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let keys: usize = args.next().map_or(1_000_000, |n| n.parse().expect("KEYS is a number"));
    let what = args.next().unwrap_or_else(|| "both".into());
    let root = Root::memory();

    // Each function: a .runnable.yaml and 3 versions with a binary and a draft: 7 keys.
    let functions = keys / 7;
    let started = Instant::now();
    for f in 0..functions {
        let (tenant, name) = (format!("com.bench.t{}", f % 100), format!("fn{f}"));
        let dir = format!("{tenant}/default/{name}");
        let yaml = format!(
            "name: {name}\nnamespace: default\nlang: rust\nversion: v1.2.0\nfqfn: {tenant}#default::{name}@v1.2.0\n"
        );
        root.store.put(&format!("{dir}/.runnable.yaml").into(), PutPayload::from(yaml)).await.unwrap();
        for version in ["v1.0.0", "v1.1.0", "v1.2.0"] {
            let binary = format!("\0asm {f} {version}");
            root.store.put(&format!("{dir}/{version}/{name}.wasm").into(), PutPayload::from(binary)).await.unwrap();
            root.store
                .put(&format!("{dir}/{version}/lib.rs").into(), PutPayload::from_static(b"// draft"))
                .await
                .unwrap();
        }
    }
    println!("built {} keys in {:.1}s", functions * 7, started.elapsed().as_secs_f64());

    if what == "inventory" || what == "both" {
        let started = Instant::now();
        let found = se2::inventory(&root, 8, &Silent).await.unwrap();
        println!(
            "inventory: {} objects, {} functions in {:.2}s",
            found.totals.objects,
            found.totals.functions,
            started.elapsed().as_secs_f64()
        );
    }
    if what == "dry-run" || what == "both" {
        let started = Instant::now();
        let options = MigrateOptions { dry_run: true, tenants: Vec::new(), jobs: 8 };
        let report = se2::migrate(&root, &root, &options, &Silent).await.unwrap();
        println!(
            "migrate --dry-run: {} writes planned in {:.2}s",
            report.writes.len(),
            started.elapsed().as_secs_f64()
        );
    }
}
