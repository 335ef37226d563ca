//! A real registry for the tests: Debian's `docker-registry` (distribution
//! 2.8) on 127.0.0.1 with filesystem storage in a temp dir, filled with
//! `skopeo copy` (digests preserved). `.ci/run` installs both.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TestRegistry {
    child: Option<Child>,
    /// `127.0.0.1:PORT`
    pub addr: String,
    dir: tempfile::TempDir,
    /// `user:password` the registry requires (htpasswd, bcrypt), if any.
    pub credentials: Option<String>,
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A plain HTTP/1.1 GET over loopback: (status, body).
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

pub fn need(program: &str) {
    let found =
        Command::new("sh").arg("-c").arg(format!("command -v {program}")).output().is_ok_and(|o| o.status.success());
    assert!(found, "`{program}` is needed by this test (Debian package; .ci/run installs it)");
}

impl TestRegistry {
    pub fn start() -> TestRegistry {
        need("docker-registry");
        need("skopeo");
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let mut r = TestRegistry { child: None, addr, dir, credentials: None };
        r.resume();
        r
    }

    /// A registry that requires `user:password` (htpasswd with a bcrypt
    /// hash made by Debian's `htpasswd -B`, package apache2-utils).
    pub fn start_with_auth(user: &str, password: &str) -> TestRegistry {
        need("docker-registry");
        need("htpasswd");
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("htpasswd").args(["-Bbn", user, password]).output().expect("running htpasswd");
        assert!(out.status.success(), "htpasswd: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::write(dir.path().join("htpasswd"), &out.stdout).unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let mut r = TestRegistry { child: None, addr, dir, credentials: Some(format!("{user}:{password}")) };
        r.resume();
        r
    }

    /// Starts (again) on the same port and storage.
    pub fn resume(&mut self) {
        let config = self.dir.path().join("config.yml");
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {}\n",
            self.dir.path().join("data").display(),
            self.addr
        );
        if self.credentials.is_some() {
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                self.dir.path().join("htpasswd").display()
            ));
        }
        std::fs::write(&config, yaml).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting docker-registry");
        self.child = Some(child);
        let start = Instant::now();
        let up = if self.credentials.is_some() { 401 } else { 200 };
        while http_get(&self.addr, "/v2/").map(|r| r.0) != Some(up) {
            assert!(start.elapsed() < Duration::from_secs(20), "docker-registry did not come up on {}", self.addr);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `skopeo copy` of `layout:name` to `repo:tag` here (every platform, digests kept).
    pub fn push(&self, layout: &Path, name: &str, repo_tag: &str) {
        let out = Command::new("skopeo")
            .args(["copy", "--insecure-policy", "--preserve-digests", "--dest-tls-verify=false", "--all", "-q"])
            .arg(format!("oci:{}:{name}", layout.display()))
            .arg(format!("docker://{}/{repo_tag}", self.addr))
            .output()
            .expect("running skopeo");
        assert!(out.status.success(), "skopeo copy failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// `docker://127.0.0.1:PORT/repo_tag`
    pub fn url(&self, repo_tag: &str) -> String {
        format!("docker://{}/{repo_tag}", self.addr)
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}
