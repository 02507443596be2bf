//! `herald bench` end to end, small: it starts Herald as a child process on each back-end, runs
//! the bare client and Herald in alternating rounds, and prints one Markdown row per back-end
//! with the date, the machine, the ratios, the latencies and Herald's RSS, then the command.

use std::process::Command;

#[test]
fn bench_prints_a_table_row_per_backend_with_the_command() {
    let postgres = herald_store::testing::postgres_admin_url();
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args([
            "bench",
            "--events",
            "300",
            "--concurrency",
            "8",
            "--fanout",
            "3",
            "--fanout-events",
            "40",
            "--rates",
            "50,100",
            "--latency-for",
            "400ms",
            "--rounds",
            "2",
            "--database",
            "sqlite",
            "--database",
            &postgres,
        ])
        .env_remove("HERALD_WORKERS")
        .output()
        .expect("herald bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "herald bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Two rounds each, the bare client before Herald in each.
    for backend in ["SQLite", "PostgreSQL"] {
        for round in 1..=2 {
            let baseline = format!("{backend} round {round}: bare client -> sink");
            let herald = format!("{backend} round {round}: Herald");
            let at = |needle: &str| {
                stdout
                    .find(needle)
                    .unwrap_or_else(|| panic!("no `{needle}` in:\n{stdout}"))
            };
            assert!(at(&baseline) < at(&herald), "{stdout}");
        }
    }
    let header = stdout
        .lines()
        .find(|l| l.starts_with("| date | machine | back-end |"))
        .unwrap_or_else(|| panic!("no table in:\n{stdout}"));
    assert!(header.contains("3-integration fan-out"), "{header}");
    assert!(
        header.contains("p50 / p99 at 50 ev/s") && header.contains("p50 / p99 at 100 ev/s"),
        "{header}"
    );
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .filter(|l| l.starts_with("| 20"))
        .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    let cpus = std::thread::available_parallelism().unwrap().get();
    for (row, backend) in rows.iter().zip(["SQLite", "PostgreSQL"]) {
        assert_eq!(row[2], backend);
        assert!(
            row[1].starts_with(&format!("{cpus} × ")),
            "machine: {}",
            row[1]
        );
        let number = |cell: &str| -> f64 {
            cell.split_whitespace()
                .next()
                .unwrap()
                .replace([',', '%'], "")
                .parse()
                .unwrap()
        };
        for cell in [row[3], row[4], row[5], row[6], row[7]] {
            assert!(number(cell) > 0.0, "{cell} in {row:?}");
        }
        let rss: f64 = row[10].split_whitespace().next().unwrap().parse().unwrap();
        assert!(rss > 1.0 && rss < 1024.0, "Herald's RSS {rss} MiB: {row:?}");
    }
    assert!(
        stdout.contains("Command: `herald bench --events 300"),
        "{stdout}"
    );
}

#[test]
fn bench_refuses_an_empty_fanout_run_instead_of_waiting_for_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["bench", "--fanout-events", "0"])
        .output()
        .expect("herald bench runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--fanout-events"), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing was measured");
}
