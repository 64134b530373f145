//! The one place a TLS scan opens a connection: every raw hello, every cipher-suite question and
//! the rustls handshake go through [`connect`]. A target that needs a plaintext preamble before
//! TLS (STARTTLS: SMTP, IMAP, POP3, Postgres) hooks in here and nowhere else.

use std::net::SocketAddr;

use tokio::net::TcpStream;

/// Opens a TCP connection to `addr`, upgraded by the target's STARTTLS dialogue when it has one,
/// ready for a ClientHello to be written.
pub async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    let _ = stream.set_nodelay(true);
    super::starttls::upgrade(&mut stream).await?;
    Ok(stream)
}
