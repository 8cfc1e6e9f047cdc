//! The end-to-end conformance suite of SPEC.md §2–§4: the same test
//! functions run on every backend (`common::backends`), each expanded into
//! one `#[tokio::test]` per backend named `<backend>_<case>`. Every test
//! makes its own uniquely named roots, so the tests run in parallel.
//!
//! The backends: `memory` (in this process), `disk` (a temp directory),
//! and on servers (`common::servers`, each test's root a unique prefix of
//! one bucket): `moto` and `s3s` (S3), `azurite` (Azure Blob), `minio` (S3,
//! from docker-compose only) and `gcs` (fake-gcs-server, read-only for se2:
//! see the lists below and `tests/cloud.rs`). A server's tests skip when
//! its `SE2_TEST_*` variables are missing, and fail instead when
//! `SE2_TEST_REQUIRE_SERVERS` is set and `SE2_TEST_SERVERS` lists it.
//!
//! To add a backend: write `common::backends::NAME() -> Option<Backend>`
//! (`None` when its server is not configured) and add `NAME` to the
//! backend lists of the `conformance!` invocation below. A case left out
//! for a backend is left out here, with the reason.

#[allow(dead_code, reason = "the harness is shared with tests/cloud.rs; this file uses part of it")]
mod common;

/// The conformance functions, one `async fn(&Harness)` per case, by topic.
mod conformance {
    pub mod commands;
    pub mod inventory;
    pub mod layout;
    pub mod merge;
    pub mod problems;
    pub mod runs;
    pub mod verify;
}

use conformance::{commands, inventory, layout, merge, problems, runs, verify};

/// `conformance! { [backend, ...] => [module::case, ...]; ... }` expands
/// each case into one test per listed backend, `<backend>_<case>`, that
/// calls `module::case(&Harness)`. MinIO runs only under docker-compose, so
/// its tests are ignored unless asked for (`cargo test -- --include-ignored`
/// with `SE2_TEST_MINIO_*` set): never counted as passed when they did not run.
macro_rules! conformance {
    ($($backends:tt => [$($module:ident :: $case:ident),+ $(,)?];)+) => {
        $($(conformance!(@case $backends $module $case);)+)+
    };
    (@case [$($backend:ident),+ $(,)?] $module:ident $case:ident) => {
        $(conformance!(@test $backend $module $case);)+
    };
    (@test minio $module:ident $case:ident) => {
        pastey::paste! {
            #[tokio::test]
            #[ignore = "MinIO runs under docker-compose: set SE2_TEST_MINIO_* and pass --include-ignored"]
            async fn [<minio_ $case>]() {
                conformance!(@body minio $module $case);
            }
        }
    };
    (@test $backend:ident $module:ident $case:ident) => {
        pastey::paste! {
            #[tokio::test]
            async fn [<$backend _ $case>]() {
                conformance!(@body $backend $module $case);
            }
        }
    };
    (@body $backend:ident $module:ident $case:ident) => {
        let backend = common::backends::$backend();
        if let Some(harness) = common::Harness::new(backend, stringify!($backend), stringify!($case)) {
            $module::$case(&harness).await;
        }
    };
}

conformance! {
    // Every case that writes to the root, on every backend se2 can write to.
    // Not on gcs: fake-gcs-server rejects object_store's uploads ("invalid
    // uploadType"), so a GCS root is only ever a source (tests/cloud.rs).
    [memory, disk, moto, s3s, azurite, minio] => [
        layout::fresh_root_gets_the_spec_layout,
        layout::versions_order_as_semver,
        layout::highest_runnable_is_current,
        layout::drafts_follow_lang,
        layout::identical_binaries_share_a_digest_directory,
        layout::draft_conflict_keeps_the_highest_versions_draft,
        layout::draft_ref_is_the_draft_versions_binary,
        layout::versions_count_revisions,
        layout::listing_order_does_not_matter,
        merge::merge_keeps_existing_modules,
        merge::system_version_never_decreases,
        merge::tenant_filter_limits_the_run,
        merge::draft_conflict_across_runs_keeps_the_highest_versions_draft,
        merge::unreadable_tenant_json_is_never_overwritten,
        problems::rejects_unparsable_yaml,
        problems::rejects_malformed_fqfn,
        problems::rejects_fqfn_disagreeing_with_fields,
        problems::rejects_fqfn_disagreeing_with_key_path,
        problems::rejects_missing_current_binary,
        problems::rejects_function_without_runnable,
        problems::warns_draft_without_binary,
        problems::warns_version_directory_without_binary,
        problems::warns_draft_version_without_draft,
        problems::warns_file_matching_nothing,
        runs::second_run_writes_nothing,
        runs::dry_run_lists_exactly_the_real_writes,
        runs::dry_run_into_existing_layout_lists_the_real_writes,
        runs::to_dest_leaves_the_source_untouched,
        runs::interrupted_run_is_completed_by_the_next,
        runs::report_file_holds_the_full_account,
        runs::summary_and_quiet_output,
        runs::json_output_is_one_document,
        inventory::inventory_counts_what_it_finds,
        inventory::inventory_exits_3_on_what_migrate_rejects,
        verify::verify_passes_after_migrate,
        verify::verify_finds_an_unmigrated_root,
        verify::verify_names_each_mismatch,
        verify::verify_finds_a_missing_binary,
        verify::verify_checks_another_destination,
        verify::prune_deletes_only_verified_functions,
        verify::prune_archives_before_deleting,
    ];
    // Cases that write nothing to a root: on gcs too.
    [memory, disk, moto, s3s, azurite, minio, gcs] => [
        commands::bad_command_line_exits_2,
    ];
    // memory:// makes every named store it is asked for: no memory root is missing.
    [disk, moto, s3s, azurite, minio, gcs] => [
        commands::missing_root_exits_1,
    ];
    [disk] => [
        commands::local_roots_in_every_form,
    ];
}
