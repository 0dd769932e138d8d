//! `gatehouse healthcheck`: asks the local server's readiness endpoint, for container
//! `HEALTHCHECK` lines where no HTTP client is installed.

use gatehouse_server::Config;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub(crate) async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let mut addr = config.listen.http;
    if addr.ip().is_unspecified() {
        let loopback = match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        addr = SocketAddr::new(loopback, addr.port());
    }
    match tokio::time::timeout(Duration::from_secs(5), ready_status(addr)).await {
        Ok(Ok(200)) => {
            println!("ready");
            Ok(ExitCode::SUCCESS)
        }
        Ok(Ok(status)) => {
            println!("not ready (HTTP {status})");
            Ok(ExitCode::FAILURE)
        }
        Ok(Err(error)) => {
            println!("not reachable at {addr}: {error}");
            Ok(ExitCode::FAILURE)
        }
        Err(_) => {
            println!("no answer from {addr} within 5 s");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn ready_status(addr: SocketAddr) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /-/health/ready/ HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await?;
    let mut head = vec![0u8; 64];
    let read = stream.read(&mut head).await?;
    let line = String::from_utf8_lossy(&head[..read]);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("malformed HTTP response"))
}
