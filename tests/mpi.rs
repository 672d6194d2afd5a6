//! The MPI layer (`vgg_wgpu::distributed::MpiWorld`) under a real `mpirun`
//! (feature `mpi`; needs Open MPI's `mpirun` on the PATH, see .ci/setup-tests):
//!
//!     cargo test --features mpi --test mpi -- --nocapture
//!
//! Each test runs this same test binary under `mpirun -np 2`, selecting the rank's
//! part with the environment variable `VGG_MPI_SCENARIO` and the filter
//! `rank_entry` (the one test that does anything when that variable is set), and
//! judges mpirun's exit status and output.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{rngs::StdRng, Rng, SeedableRng};
use vgg_wgpu::distributed::MpiWorld;

const SCENARIO: &str = "VGG_MPI_SCENARIO";
const RANKS: usize = 2;
/// The timeout of the failure scenarios: short, so the tests stay fast.
const SHORT: Duration = Duration::from_secs(3);
/// The timeout of collectives that should succeed.
const LONG: Duration = Duration::from_secs(60);

/// The part one rank plays: runs only under `mpirun` (when `VGG_MPI_SCENARIO` is set).
#[test]
fn rank_entry() {
    let Ok(scenario) = std::env::var(SCENARIO) else {
        return;
    };
    let world = MpiWorld::init().expect("MPI init");
    match scenario.as_str() {
        "collectives" => collectives(&world),
        "hung_peer" => hung_peer(&world),
        "dead_peer_exit" => dead_peer(&world, Death::Exit),
        "dead_peer_crash" => dead_peer(&world, Death::Crash),
        "dead_peer_vanish" => dead_peer(&world, Death::Vanish),
        "singleton" => singleton(&world),
        other => panic!("unknown scenario {other}"),
    }
}

/// What `mpirun` (or a lone run) of a scenario gave.
struct Run {
    success: bool,
    code: Option<i32>,
    output: String,
    elapsed: Duration,
}

/// Runs `scenario` on `ranks` ranks (`None`: the binary alone, no mpirun), killing
/// it after `limit` (a hang fails the test instead of the CI run).
fn run(scenario: &str, ranks: Option<usize>, limit: Duration) -> Run {
    let exe = std::env::current_exe().expect("test binary path");
    let entry = ["--exact", "rank_entry", "--nocapture", "--test-threads=1"];
    let mut command = match ranks {
        Some(n) => {
            let mut c = Command::new("mpirun");
            // Root in CI containers; more ranks than cores on a 2-core machine.
            c.args(["--allow-run-as-root", "--oversubscribe", "-np"])
                .arg(n.to_string())
                .args(["-x", SCENARIO])
                .arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    command
        .args(entry)
        .env(SCENARIO, scenario)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = command.spawn().unwrap_or_else(|e| {
        panic!("cannot start mpirun ({e}): install Open MPI (openmpi-bin, see .ci/setup-tests)")
    });
    // Drain both pipes on threads so a chatty run cannot block on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for mpirun") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "scenario {scenario} still running after {limit:?}: killed. Output so far:\n{}\n{}",
                out.join().unwrap_or_default(),
                err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = start.elapsed();
    let output = format!(
        "{}{}",
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default()
    );
    println!(
        "--- scenario {scenario}: {status} after {:.1}s ---\n{output}",
        elapsed.as_secs_f64()
    );
    Run {
        success: status.success(),
        code: status.code(),
        output,
        elapsed,
    }
}

// ---- the tests (driver side) ----

/// all_reduce_sum, agree, broadcast_bytes and barrier on 2 ranks.
#[test]
fn collectives_on_two_ranks() {
    let r = run("collectives", Some(RANKS), Duration::from_secs(120));
    assert!(r.success, "collectives failed: {:?}", r.code);
    for rank in 0..RANKS {
        assert!(
            r.output.contains(&format!("rank {rank}: collectives ok")),
            "rank {rank} did not finish"
        );
    }
}

/// A rank that hangs (alive, never joins) makes the other's all-reduce return the
/// timeout error within about the timeout; that rank then exits non-zero and mpirun
/// ends the job instead of waiting for the hung one.
#[test]
fn hung_peer_times_out() {
    let r = run("hung_peer", Some(RANKS), Duration::from_secs(60));
    assert!(
        r.output.contains("rank 0: timeout checked"),
        "rank 0 did not check its timeout"
    );
    assert!(r.output.contains(
        "rank 0: gradient exchange timed out after 3s: another rank died or hung; the last checkpoint is intact"
    ));
    assert!(!r.success, "mpirun should fail when a rank timed out");
    // Rank 1 hangs for 30 s: the job must end well before.
    assert!(r.elapsed < Duration::from_secs(20), "{:?}", r.elapsed);
}

/// A rank that exits early: mpirun notices and ends the job (Open MPI kills the
/// survivors), or the survivor's collective times out; either way the job ends
/// non-zero within about the timeout, with a message.
fn check_dead_peer(scenario: &str, mpirun_says: &str) {
    let r = run(scenario, Some(RANKS), Duration::from_secs(60));
    assert!(!r.success, "mpirun should fail when a rank died");
    assert!(
        !r.output.contains("rank 0: all-reduce returned"),
        "rank 0's all-reduce completed without its peer"
    );
    let killed_by_mpirun = r.output.contains(mpirun_says);
    let timed_out = r
        .output
        .contains("rank 0: gradient exchange timed out after 3s");
    assert!(
        killed_by_mpirun || timed_out,
        "no message says why the job ended"
    );
    assert!(r.elapsed < Duration::from_secs(20), "{:?}", r.elapsed);
}

/// The peer exits with a non-zero status.
#[test]
fn dead_peer_exit_ends_the_job() {
    check_dead_peer(
        "dead_peer_exit",
        "mpirun detected that one or more processes exited with non-zero status",
    );
}

/// The peer crashes (SIGABRT).
#[test]
fn dead_peer_crash_ends_the_job() {
    check_dead_peer("dead_peer_crash", "exited on signal 6");
}

/// The peer exits with status 0 without finalizing MPI.
#[test]
fn dead_peer_vanish_ends_the_job() {
    check_dead_peer("dead_peer_vanish", "without calling \"finalize\"");
}

/// The binary started alone (no mpirun): a world of one rank.
#[test]
fn singleton_without_mpirun() {
    let r = run("singleton", None, Duration::from_secs(60));
    assert!(r.success, "singleton failed: {:?}", r.code);
    assert!(r.output.contains("rank 0: singleton ok"));
}

// ---- the scenarios (rank side) ----

/// Deterministic values for `rank`, spread over magnitudes so that rounding matters.
fn values(rank: usize, len: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed ^ (rank as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    (0..len)
        .map(|_| rng.random_range(-1.0f32..1.0) * 2f32.powi(rng.random_range(-12..12)))
        .collect()
}

/// FNV-1a over the bits: compared across ranks to check identical results.
fn bits_hash(values: &[f32]) -> u64 {
    values.iter().fold(0xcbf2_9ce4_8422_2325, |h, v| {
        (h ^ v.to_bits() as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

fn collectives(world: &MpiWorld) {
    let (rank, size) = (world.rank(), world.size());
    assert_eq!(size, RANKS);

    // all_reduce_sum: empty, tiny, odd, and more than one 64 MiB piece.
    for (i, &len) in [0usize, 1, 7, 100_003, (64 << 20) / 4 + 5]
        .iter()
        .enumerate()
    {
        let seed = 1000 + i as u64;
        let mut mine = values(rank, len, seed);
        world
            .all_reduce_sum(&mut mine, LONG)
            .expect("all_reduce_sum");
        // Two ranks: one addition per element, and IEEE addition commutes, so the
        // expected sum is exact in any order.
        let all: Vec<Vec<f32>> = (0..size).map(|r| values(r, len, seed)).collect();
        for (j, got) in mine.iter().enumerate() {
            let expected = all[0][j] + all[1][j];
            assert_eq!(
                got.to_bits(),
                expected.to_bits(),
                "rank {rank}: len {len}, element {j}: {got} != {expected}"
            );
        }
        // The same bits on every rank.
        world
            .agree(
                "all-reduce results",
                &format!("len={len} hash={:016x}", bits_hash(&mine)),
                LONG,
            )
            .expect("identical results on every rank");
    }

    // agree: equal descriptions pass, different ones fail on every rank naming the
    // first difference.
    world
        .agree("configurations", "model=vgg11 batch=32 lr=0.01", LONG)
        .expect("equal configurations");
    let mine = format!("model=vgg11 batch=32 lr=0.0{}", rank + 1);
    let err = world
        .agree("configurations", &mine, LONG)
        .expect_err("different configurations must fail");
    assert_eq!(
        err.to_string(),
        "ranks started with different configurations: rank 0 has `lr=0.01`, rank 1 has `lr=0.02`"
    );
    // Descriptions of different lengths.
    let mine = if rank == 0 {
        "lr=0.01"
    } else {
        "lr=0.01 seed=7"
    };
    let err = world.agree("configurations", mine, LONG).unwrap_err();
    assert!(err.to_string().contains("rank 1 has `seed=7`"), "{err}");
    // An empty description on every rank.
    world.agree("configurations", "", LONG).unwrap();

    // broadcast_bytes from rank 0 and from the last rank; one over a 64 MiB piece.
    for (root, len) in [(0, 1000usize), (size - 1, 3), (0, (64 << 20) + 3), (0, 0)] {
        let expected: Vec<u8> = (0..len).map(|i| (i * 31 + root * 7) as u8).collect();
        let mut bytes = if rank == root {
            expected.clone()
        } else {
            vec![0xAB; 17]
        };
        world.broadcast_bytes(root, &mut bytes, LONG).unwrap();
        assert!(
            bytes == expected,
            "rank {rank}: broadcast of {len} bytes from {root}"
        );
    }
    assert!(world.broadcast_bytes(size, &mut Vec::new(), LONG).is_err());

    world.barrier(LONG).unwrap();
    println!("rank {rank}: collectives ok");
}

fn hung_peer(world: &MpiWorld) {
    let rank = world.rank();
    if rank == 1 {
        // Alive but stuck: MPI sees nothing wrong.
        std::thread::sleep(Duration::from_secs(30));
        return;
    }
    let mut values = vec![1.0f32; 1000];
    let start = Instant::now();
    let err = world
        .all_reduce_sum(&mut values, SHORT)
        .expect_err("all-reduce without the peer must time out");
    let elapsed = start.elapsed();
    assert_eq!(
        err.to_string(),
        "rank 0: gradient exchange timed out after 3s: another rank died or hung; the last checkpoint is intact"
    );
    assert!(
        elapsed >= SHORT && elapsed < SHORT + Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert!(
        values.iter().all(|&v| v == 1.0),
        "values changed by a failed exchange"
    );
    // The world is unusable afterwards, at once.
    let later = world.barrier(SHORT).unwrap_err().to_string();
    assert!(
        later.contains("after the gradient exchange timed out"),
        "{later}"
    );
    println!("rank 0: timeout checked");
    // What the trainer does: report and exit non-zero.
    eprintln!("error: {err}");
    std::process::exit(1);
}

/// How the peer of `dead_peer` ends.
enum Death {
    /// `exit(3)`.
    Exit,
    /// `abort()`: SIGABRT, as a crash.
    Crash,
    /// `exit(0)` without finalizing MPI.
    Vanish,
}

fn dead_peer(world: &MpiWorld, death: Death) {
    let rank = world.rank();
    if rank == 1 {
        eprintln!("rank 1: exiting early (simulated death)");
        match death {
            Death::Exit => std::process::exit(3),
            Death::Crash => std::process::abort(),
            Death::Vanish => std::process::exit(0),
        }
    }
    let mut values = vec![1.0f32; 1000];
    match world.all_reduce_sum(&mut values, SHORT) {
        Ok(()) => println!("rank 0: all-reduce returned without its peer"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

fn singleton(world: &MpiWorld) {
    assert_eq!((world.rank(), world.size()), (0, 1));
    let mut values = vec![1.5f32, -2.0];
    world.all_reduce_sum(&mut values, SHORT).unwrap();
    assert_eq!(values, [1.5, -2.0]);
    world.agree("configurations", "lr=0.01", SHORT).unwrap();
    let mut bytes = vec![1u8, 2, 3];
    world.broadcast_bytes(0, &mut bytes, SHORT).unwrap();
    assert_eq!(bytes, [1, 2, 3]);
    world.barrier(SHORT).unwrap();
    println!("rank 0: singleton ok");
}
