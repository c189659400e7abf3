//! The PROXY protocol (HAProxy's, versions 1 and 2) from the load balancers a province puts in
//! front of its replicas: behind one, every kiosk arrives from the balancer's address, and the
//! per-address limits (16 connections, the login throttle) would count a whole province as one
//! machine. A connection from a trusted balancer (`--trusted-proxy`) must begin with the
//! header naming its client; the client's address then counts instead. From anyone else a
//! header is nothing special: HTTP that does not parse.

use ppp::HeaderResult;
#[cfg(test)]
use ppp::PartialResult;
use std::net::IpAddr;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Longer than any header a balancer sends (a version 2 header with IPv6 addresses and a few
/// TLVs); a peer that sends more without completing one is not a balancer.
const MAX_HEADER: usize = 1024;
/// A version 1 header's longest line (the protocol's own bound).
const V1_MAX: usize = 107;

async fn read_exact(stream: &mut TcpStream, buf: &mut [u8]) -> Result<(), HeaderError> {
    stream
        .read_exact(buf)
        .await
        .map(drop)
        .map_err(|_| HeaderError::Closed)
}

/// Why a trusted balancer's connection was dropped.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderError {
    TimedOut,
    Closed,
    Malformed,
}

/// Reads the header at the start of `stream`, taking nothing of the TLS or HTTP that follows
/// (a version 1 line byte by byte, a version 2 header by its length), within `limit`. `Ok(None)`: the balancer's own
/// connection (a health check, `UNKNOWN` or `LOCAL`): it counts as the balancer.
pub async fn read_client(
    stream: &mut TcpStream,
    limit: Duration,
) -> Result<Option<IpAddr>, HeaderError> {
    let read = async {
        let mut first = [0u8; 1];
        read_exact(stream, &mut first).await?;
        let buf = match first[0] {
            // version 1: one text line ending in CRLF, at most 107 bytes
            b'P' => {
                let mut buf = vec![first[0]];
                while !buf.ends_with(b"\r\n") {
                    if buf.len() >= V1_MAX {
                        return Err(HeaderError::Malformed);
                    }
                    let mut byte = [0u8; 1];
                    read_exact(stream, &mut byte).await?;
                    buf.push(byte[0]);
                }
                buf
            }
            // version 2: 16 bytes, the last two the length of what follows
            0x0D => {
                let mut buf = vec![0u8; 16];
                buf[0] = first[0];
                read_exact(stream, &mut buf[1..]).await?;
                let rest = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
                if 16 + rest > MAX_HEADER {
                    return Err(HeaderError::Malformed);
                }
                buf.resize(16 + rest, 0);
                read_exact(stream, &mut buf[16..]).await?;
                buf
            }
            _ => return Err(HeaderError::Malformed),
        };
        client_of(HeaderResult::parse(&buf))
    };
    tokio::time::timeout(limit, read)
        .await
        .unwrap_or(Err(HeaderError::TimedOut))
}

fn client_of(parsed: HeaderResult) -> Result<Option<IpAddr>, HeaderError> {
    match parsed {
        HeaderResult::V1(Ok(h)) => Ok(match h.addresses {
            ppp::v1::Addresses::Tcp4(a) => Some(IpAddr::V4(a.source_address)),
            ppp::v1::Addresses::Tcp6(a) => Some(IpAddr::V6(a.source_address)),
            ppp::v1::Addresses::Unknown => None,
        }),
        HeaderResult::V2(Ok(h)) => Ok(match h.addresses {
            ppp::v2::Addresses::IPv4(a) => Some(IpAddr::V4(a.source_address)),
            ppp::v2::Addresses::IPv6(a) => Some(IpAddr::V6(a.source_address)),
            ppp::v2::Addresses::Unix(_) | ppp::v2::Addresses::Unspecified => None,
        }),
        _ => Err(HeaderError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_one_and_two_headers_name_the_client() {
        let v1 = b"PROXY TCP4 203.0.113.7 10.0.0.5 51234 8600\r\n";
        assert_eq!(
            client_of(HeaderResult::parse(v1)),
            Ok(Some("203.0.113.7".parse().unwrap()))
        );
        let unknown = b"PROXY UNKNOWN\r\n";
        assert_eq!(client_of(HeaderResult::parse(unknown)), Ok(None));
        let mut v2 = vec![
            0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11,
            0x00, 0x0C,
        ];
        v2.extend_from_slice(&[198, 51, 100, 9, 10, 0, 0, 5, 0xC8, 0x1C, 0x21, 0x98]);
        assert_eq!(
            client_of(HeaderResult::parse(&v2)),
            Ok(Some("198.51.100.9".parse().unwrap()))
        );
        assert!(HeaderResult::parse(b"PROXY TCP4 203.0").is_incomplete());
        assert_eq!(
            client_of(HeaderResult::parse(b"GET / HTTP/1.1\r\n")),
            Err(HeaderError::Malformed)
        );
    }
}
