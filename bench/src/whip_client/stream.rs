//! One connection of the client, plain or TLS, whose every socket operation gets only the
//! time left before the request's deadline, so a slow or silent server cannot stretch it.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use rustls::ClientConnection;

use super::remaining;

/// Why a read or a write failed. A missed deadline is an [`io::ErrorKind::TimedOut`].
#[derive(Debug)]
pub(super) enum StreamError {
    Io(io::Error),
    Tls(rustls::Error),
}

impl From<io::Error> for StreamError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

pub(super) enum Stream {
    Plain(TcpStream),
    /// The session is set up by the first write: rustls holds the request until then.
    Tls(Box<TlsStream>),
}

pub(super) struct TlsStream {
    session: ClientConnection,
    tcp: TcpStream,
}

impl Stream {
    pub fn tls(session: ClientConnection, tcp: TcpStream) -> Self {
        Self::Tls(Box::new(TlsStream { session, tcp }))
    }

    pub fn write_all(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), StreamError> {
        match self {
            Self::Plain(tcp) => Ok(plain_write_all(tcp, bytes, deadline)?),
            Self::Tls(tls) => tls.write_all(bytes, deadline),
        }
    }

    /// Like [`Read::read`]: 0 is the end of the stream.
    pub fn read(&mut self, buffer: &mut [u8], deadline: Instant) -> Result<usize, StreamError> {
        match self {
            Self::Plain(tcp) => Ok(plain_read(tcp, buffer, deadline)?),
            Self::Tls(tls) => tls.read(buffer, deadline),
        }
    }
}

fn time_left(deadline: Instant) -> io::Result<std::time::Duration> {
    remaining(deadline).ok_or_else(|| io::ErrorKind::TimedOut.into())
}

fn plain_write_all(tcp: &mut TcpStream, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
    while !bytes.is_empty() {
        tcp.set_write_timeout(Some(time_left(deadline)?))?;
        match tcp.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(count) => bytes = &bytes[count..],
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

fn plain_read(tcp: &mut TcpStream, buffer: &mut [u8], deadline: Instant) -> io::Result<usize> {
    loop {
        tcp.set_read_timeout(Some(time_left(deadline)?))?;
        match tcp.read(buffer) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}

impl TlsStream {
    fn write_all(&mut self, mut bytes: &[u8], deadline: Instant) -> Result<(), StreamError> {
        loop {
            // rustls takes what its buffer has room for, and sends it once the handshake is done.
            let taken = self.session.writer().write(bytes)?;
            bytes = &bytes[taken..];
            let sent =
                bytes.is_empty() && !self.session.is_handshaking() && !self.session.wants_write();
            if sent {
                return Ok(());
            }
            if self.transfer(deadline)? == Transfer::PeerClosed {
                return Err(StreamError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    if self.session.is_handshaking() {
                        "the server closed the connection during the TLS handshake"
                    } else {
                        "the server closed the connection before the request was sent"
                    },
                )));
            }
        }
    }

    fn read(&mut self, buffer: &mut [u8], deadline: Instant) -> Result<usize, StreamError> {
        loop {
            match self.session.reader().read(buffer) {
                Ok(count) => return Ok(count),
                // Many servers close without close_notify; the HTTP framing still tells a
                // cut-off response from a whole one.
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.transfer(deadline)?;
                }
                Err(error) => return Err(StreamError::Io(error)),
            }
        }
    }

    /// One socket operation: send what rustls has queued, or else receive and process.
    fn transfer(&mut self, deadline: Instant) -> Result<Transfer, StreamError> {
        if self.session.wants_write() {
            self.tcp.set_write_timeout(Some(time_left(deadline)?))?;
            return match self.session.write_tls(&mut self.tcp) {
                Err(error) if error.kind() != io::ErrorKind::Interrupted => Err(error.into()),
                _ => Ok(Transfer::Moved),
            };
        }
        self.tcp.set_read_timeout(Some(time_left(deadline)?))?;
        let received = match self.session.read_tls(&mut self.tcp) {
            Ok(count) => count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return Ok(Transfer::Moved),
            Err(error) => return Err(error.into()),
        };
        if let Err(error) = self.session.process_new_packets() {
            // Tell the server why with the alert rustls queued; failing to is no worse.
            let _alert_sent = self.session.write_tls(&mut self.tcp);
            return Err(StreamError::Tls(error));
        }
        Ok(if received == 0 {
            Transfer::PeerClosed
        } else {
            Transfer::Moved
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transfer {
    Moved,
    PeerClosed,
}
