//! The process's memory allocator: jemalloc, with one arena.
//!
//! Issue 13, throughput (docs/performance.md, sixteenth round). With glibc's `malloc`,
//! allocating and freeing took about a fifth of Herald's CPU under load (`_int_malloc`,
//! `_int_free`, `malloc_consolidate`, `unlink_chunk`). jemalloc's thread caches serve most of
//! those calls in a few instructions.
//!
//! Its defaults give each busy thread an arena of its own and keep freed pages for 10 s, which
//! cost 6–10 MiB of resident memory at 64 clients. Herald has a handful of busy threads whose
//! small allocations the thread caches serve, so one arena is enough, and freed pages go back
//! to the system after a second. Those options are compiled into jemalloc
//! (`JEMALLOC_SYS_WITH_MALLOC_CONF` in `.cargo/config.toml`), because setting them from Rust
//! would take `unsafe` code; `_RJEM_MALLOC_CONF` in the environment overrides them.

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(test)]
mod tests {
    use tikv_jemalloc_ctl::{config, opt};

    /// The options from `.cargo/config.toml` reached the build: a build without them still
    /// runs, on jemalloc's defaults and with more memory, so nothing else would notice.
    #[test]
    fn jemalloc_runs_with_the_built_in_options() {
        if std::env::var_os("_RJEM_MALLOC_CONF").is_some() {
            return; // an operator's override is allowed to differ
        }
        let built_in = config::malloc_conf::read().unwrap();
        assert!(
            built_in.contains("narenas:1,tcache_max:4096,dirty_decay_ms:1000,muzzy_decay_ms:0"),
            "jemalloc was built with {built_in:?}"
        );
        assert_eq!(opt::narenas::read().unwrap(), 1);
        assert_eq!(opt::tcache_max::read().unwrap(), 4096);
    }
}
