//! A throw-away PostgreSQL cluster for tests: `initdb` + `pg_ctl` as the `postgres` user on a
//! random loopback port, data in a fresh directory, stopped (immediately) when dropped.
//! Needs the PostgreSQL server binaries (`scripts/test` installs `postgresql` when missing).
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct TestPostgres {
    pub dir: PathBuf,
    pub port: u16,
    pub url: String,
    bin: PathBuf,
}

fn bin_dir() -> PathBuf {
    let base = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(base)
        .expect("PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("an initdb under /usr/lib/postgresql/*/bin")
}

fn as_postgres(bin: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin.join(tool))
        .args(args)
        .output()
        .expect("runuser")
}

impl TestPostgres {
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// A server that accepts only TLS connections on TCP (`hostssl`; plain ones are rejected),
    /// with `cert_pem` and `key_pem` as its certificate and key.
    pub fn start_tls(cert_pem: &[u8], key_pem: &[u8]) -> Self {
        Self::start_with(|data| {
            for (name, bytes) in [("server.crt", cert_pem), ("server.key", key_pem)] {
                let p = data.join(name);
                std::fs::write(&p, bytes).unwrap();
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
                let st = Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&p)
                    .status()
                    .unwrap();
                assert!(st.success());
            }
            let mut conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
            conf.push_str(
                "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
            );
            std::fs::write(data.join("postgresql.conf"), conf).unwrap();
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n",
            )
            .unwrap();
        })
    }

    /// Runs `setup` on the data directory after `initdb`, before the first start.
    pub fn start_with(setup: impl FnOnce(&Path)) -> Self {
        let bin = bin_dir();
        // A directory the postgres user can reach: every parent needs o+x.
        let dir = PathBuf::from(format!(
            "/tmp/sigil-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let st = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(st.success());
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let data = dir.join("data");
        let o = as_postgres(
            &bin,
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
        );
        assert!(
            o.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        setup(&data);
        let mut pg = Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir,
            port,
            bin,
        };
        // The port was free when the kernel gave it out; a parallel test may have taken it
        // since: then the server cannot listen, and another port is tried.
        for _ in 0..10 {
            if pg.try_up().is_ok() {
                return pg;
            }
            pg.port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            pg.url = format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port);
        }
        pg.up();
        pg
    }

    /// Starts the server (again).
    pub fn up(&self) {
        if let Err(e) = self.try_up() {
            panic!("pg_ctl start: {e}");
        }
    }

    fn try_up(&self) -> Result<(), String> {
        let data = self.dir.join("data");
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={}",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log");
        let o = as_postgres(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-w",
                "-l",
                log.to_str().unwrap(),
                "-o",
                &opts,
                "start",
            ],
        );
        if o.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&o.stderr).into_owned())
        }
    }

    /// Stops the server now (in-flight transactions are lost, committed ones are not).
    pub fn down(&self) {
        let data = self.dir.join("data");
        let _ = as_postgres(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-w",
                "-m",
                "immediate",
                "stop",
            ],
        );
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        self.down();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
