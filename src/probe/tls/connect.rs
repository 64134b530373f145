//! The one place a TLS scan opens a connection: every raw hello, every cipher-suite question and
//! the rustls handshake go through [`connect`]. A target that needs a plaintext preamble before
//! TLS (STARTTLS: SMTP, IMAP, POP3, Postgres) hooks in here and nowhere else.

use std::net::SocketAddr;

use tokio::net::TcpStream;

/// Opens a TCP connection to `addr`, ready for a ClientHello to be written.
pub async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}
