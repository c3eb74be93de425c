//! A redis-server of a test's own, for tests that stop, stall, kill or restart it (the
//! shared server that `make test` starts must stay up for the others). Included by
//! `core/tests/common/mod.rs` and, by path, by the sandbox crate's tests: the two crates
//! have no test-support crate in common.

// Each test file uses only some of these.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// The server: on a free port of 127.0.0.1, writing its append-only file (fsync every
/// second) into a directory of its own, so that a restart after [`OwnRedis::stop`] finds
/// the data again. Killed, and its directory removed, when dropped.
pub struct OwnRedis {
    bin: String,
    dir: std::path::PathBuf,
    pub port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    /// Start it (the binary is `WA360_TEST_REDIS_SERVER`, set by tests/redis/with-redis.sh)
    /// and wait until it takes connections.
    pub fn start() -> OwnRedis {
        let bin = std::env::var("WA360_TEST_REDIS_SERVER").unwrap_or_else(|_| {
            panic!(
                "WA360_TEST_REDIS_SERVER is not set: run through `make test` \
                 (tests/redis/with-redis.sh)"
            )
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("wa360-redis-own-{port}-{:08x}", fastrand::u32(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = OwnRedis {
            bin,
            dir,
            port,
            child: None,
        };
        s.spawn();
        s
    }

    /// Start it again on the same port and directory (after [`Self::stop`] or
    /// [`Self::kill`]).
    pub fn spawn(&mut self) {
        let child = std::process::Command::new(&self.bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send it `sig` (`-STOP`, `-CONT`, …) with kill(1).
    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        assert!(
            std::process::Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap()
                .success(),
            "kill {sig} {pid}"
        );
    }

    /// SIGTERM: Redis flushes the append-only file and exits, as on a restart or deploy.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }

    /// SIGKILL: gone at once, as on a crash.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
