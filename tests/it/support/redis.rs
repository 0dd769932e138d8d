//! A private `redis-server` (Debian's package) of one test's own: 127.0.0.1 on a free port,
//! its own directory, no persistence (Gatehouse keeps only ephemeral state there), stopped by
//! PID. The test can stop it and start it again on the same port to check that Gatehouse
//! notices the outage and recovers by itself.

use super::server::free_addr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running private Redis; stopped on drop.
pub struct PrivateRedis {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    password: Option<String>,
}

impl PrivateRedis {
    /// Starts a Redis without a password.
    pub fn start() -> Self {
        Self::start_with_password(None)
    }

    /// Starts a Redis that requires `password` (`requirepass`), when given.
    pub fn start_with_password(password: Option<&str>) -> Self {
        let mut redis = Self {
            child: None,
            port: free_addr().port(),
            dir: tempfile::tempdir().expect("redis dir"),
            password: password.map(str::to_owned),
        };
        redis.start_again();
        redis
    }

    /// The `redis.url` of this instance (without the password).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Stops the server (SIGTERM to its PID, then wait).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same port, with an empty data set.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "already running");
        let config = self.dir.path().join("redis.conf");
        let mut text = format!(
            "bind 127.0.0.1\nport {port}\ndir {dir}\nsave \"\"\nappendonly no\n\
             daemonize no\nprotected-mode yes\nlogfile {log}\n",
            port = self.port,
            dir = self.dir.path().display(),
            log = self.log_path().display(),
        );
        if let Some(password) = &self.password {
            text.push_str(&format!("requirepass {password}\n"));
        }
        std::fs::write(&config, text).expect("write redis.conf");
        let child = Command::new("redis-server")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run redis-server (Debian package redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self
                .command(&["PING"])
                .is_some_and(|reply| reply.contains("PONG"))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start: {}", self.log());
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Sends one command (RESP, authenticated when a password is set) and returns the raw
    /// reply text, or `None` when the server does not answer.
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut request = Vec::new();
        let mut push = |parts: &[&str]| {
            request.extend(format!("*{}\r\n", parts.len()).into_bytes());
            for part in parts {
                request.extend(format!("${}\r\n{part}\r\n", part.len()).into_bytes());
            }
        };
        if let Some(password) = &self.password {
            push(&["AUTH", password]);
        }
        push(args);
        push(&["QUIT"]);
        stream.write_all(&request).ok()?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).ok()?;
        Some(reply)
    }

    /// Every key name in the instance (`KEYS *`; test data sets are tiny).
    pub fn keys(&self) -> String {
        self.command(&["KEYS", "*"]).unwrap_or_default()
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
