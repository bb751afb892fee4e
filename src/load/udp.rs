//! Batched UDP for the load generator: `sendmmsg(2)` and `recvmmsg(2)` move
//! up to [`BATCH`] datagrams per system call, so the generator's CPU per
//! message stays a small part of the SUT's. Every wait is bounded (`poll(2)`
//! with a timeout); every datagram read is at most [`MAX_DATAGRAM`] bytes.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Datagrams per system call.
pub const BATCH: usize = 64;
/// The largest datagram read (bigger ones are cut and count as garbage).
pub const MAX_DATAGRAM: usize = 4096;

/// Socket buffers asked for (the kernel caps them at `net.core.*mem_max`).
const SOCKET_BUFFER: libc::c_int = 8 << 20;

/// A UDP socket for batched I/O.
pub struct BatchSocket {
    sock: UdpSocket,
    rx: Vec<[u8; MAX_DATAGRAM]>,
    rx_len: Vec<usize>,
    rx_from: Vec<SocketAddr>,
}

fn to_storage(a: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match a {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage; both are plain data.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in, sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage; both are plain data.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in6, sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

fn from_storage(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match ss.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let sin = unsafe { &*(ss as *const _ as *const libc::sockaddr_in) };
            Some(SocketAddr::from((
                sin.sin_addr.s_addr.to_ne_bytes(),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let sin6 = unsafe { &*(ss as *const _ as *const libc::sockaddr_in6) };
            Some(SocketAddr::from((
                sin6.sin6_addr.s6_addr,
                u16::from_be(sin6.sin6_port),
            )))
        }
        _ => None,
    }
}

impl BatchSocket {
    /// Binds `addr` (port 0 picks one), non-blocking, with large buffers.
    pub fn bind(addr: SocketAddr) -> io::Result<BatchSocket> {
        let sock = UdpSocket::bind(addr)?;
        sock.set_nonblocking(true)?;
        for opt in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
            // SAFETY: setsockopt with a pointer to a c_int that outlives the call.
            unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    &SOCKET_BUFFER as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        Ok(BatchSocket {
            sock,
            rx: vec![[0; MAX_DATAGRAM]; BATCH],
            rx_len: vec![0; BATCH],
            rx_from: vec![SocketAddr::from(([0, 0, 0, 0], 0)); BATCH],
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// Sends every datagram of `out` (bytes, destination); returns how many
    /// went (a full socket buffer stops the batch early; the caller retries
    /// the rest later).
    pub fn send_batch(&self, out: &[(&[u8], SocketAddr)]) -> io::Result<usize> {
        let mut sent = 0;
        while sent < out.len() {
            let chunk = &out[sent..out.len().min(sent + BATCH)];
            let mut addrs: Vec<(libc::sockaddr_storage, libc::socklen_t)> =
                chunk.iter().map(|(_, a)| to_storage(*a)).collect();
            let mut iovs: Vec<libc::iovec> = chunk
                .iter()
                .map(|(b, _)| libc::iovec {
                    iov_base: b.as_ptr() as *mut libc::c_void,
                    iov_len: b.len(),
                })
                .collect();
            let mut hdrs: Vec<libc::mmsghdr> = (0..chunk.len())
                .map(|i| {
                    // SAFETY: msghdr is plain data; zero is a valid start.
                    let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
                    h.msg_name = &mut addrs[i].0 as *mut _ as *mut libc::c_void;
                    h.msg_namelen = addrs[i].1;
                    h.msg_iov = &mut iovs[i];
                    h.msg_iovlen = 1;
                    libc::mmsghdr {
                        msg_hdr: h,
                        msg_len: 0,
                    }
                })
                .collect();
            // SAFETY: every pointer in hdrs points into addrs/iovs/chunk, which
            // live until the call returns; the count is hdrs' length.
            let n = unsafe {
                libc::sendmmsg(
                    self.sock.as_raw_fd(),
                    hdrs.as_mut_ptr(),
                    hdrs.len() as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(libc::ENOBUFS)
                {
                    return Ok(sent);
                }
                // A refused datagram (ICMP from an earlier one) is not fatal.
                if e.raw_os_error() == Some(libc::ECONNREFUSED) {
                    continue;
                }
                return Err(e);
            }
            sent += n as usize;
            if (n as usize) < chunk.len() {
                return Ok(sent);
            }
        }
        Ok(sent)
    }

    /// Reads the datagrams waiting (at most [`BATCH`]) without blocking;
    /// returns how many ([`Self::datagram`] gives each).
    pub fn recv_batch(&mut self) -> io::Result<usize> {
        // SAFETY: sockaddr_storage is plain data.
        let mut addrs: Vec<libc::sockaddr_storage> = vec![unsafe { std::mem::zeroed() }; BATCH];
        let mut iovs: Vec<libc::iovec> = self
            .rx
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr() as *mut libc::c_void,
                iov_len: MAX_DATAGRAM,
            })
            .collect();
        let mut hdrs: Vec<libc::mmsghdr> = (0..BATCH)
            .map(|i| {
                // SAFETY: msghdr is plain data; zero is a valid start.
                let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
                h.msg_name = &mut addrs[i] as *mut _ as *mut libc::c_void;
                h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                h.msg_iov = &mut iovs[i];
                h.msg_iovlen = 1;
                libc::mmsghdr {
                    msg_hdr: h,
                    msg_len: 0,
                }
            })
            .collect();
        // SAFETY: the headers point into addrs, iovs and self.rx, which all
        // live across the call; the count is BATCH; no timeout is given
        // (MSG_DONTWAIT).
        let n = unsafe {
            libc::recvmmsg(
                self.sock.as_raw_fd(),
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(0),
                // An ICMP port unreachable for an earlier datagram.
                io::ErrorKind::ConnectionRefused => Ok(0),
                _ => Err(e),
            };
        }
        let n = n as usize;
        for i in 0..n {
            self.rx_len[i] = (hdrs[i].msg_len as usize).min(MAX_DATAGRAM);
            self.rx_from[i] = from_storage(&addrs[i]).unwrap_or(self.rx_from[i]);
        }
        Ok(n)
    }

    /// Datagram `i` of the last [`Self::recv_batch`]: its bytes and sender.
    pub fn datagram(&self, i: usize) -> (&[u8], SocketAddr) {
        (&self.rx[i][..self.rx_len[i]], self.rx_from[i])
    }

    /// Waits until a datagram can be read, at most `timeout`.
    pub fn wait(&self, timeout: Duration) -> bool {
        let mut p = libc::pollfd {
            fd: self.sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: one pollfd that lives across the call.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        r > 0
    }
}

/// The socket's descriptor, for a driver that waits on several sockets at
/// once (one `poll(2)` over all of them).
impl AsRawFd for BatchSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_goes_and_comes_back_whole() {
        let a = BatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut b = BatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let to = b.local_addr().unwrap();
        let msgs: Vec<Vec<u8>> = (0..100).map(|i| format!("m{i}").into_bytes()).collect();
        let out: Vec<(&[u8], SocketAddr)> = msgs.iter().map(|m| (&m[..], to)).collect();
        assert_eq!(a.send_batch(&out).unwrap(), 100);
        let mut got = Vec::new();
        while got.len() < 100 {
            assert!(
                b.wait(Duration::from_secs(2)),
                "datagrams stopped at {}",
                got.len()
            );
            let n = b.recv_batch().unwrap();
            for i in 0..n {
                let (bytes, from) = b.datagram(i);
                assert_eq!(from, a.local_addr().unwrap());
                got.push(bytes.to_vec());
            }
        }
        assert_eq!(got, msgs);
        assert!(!b.wait(Duration::from_millis(10)));
    }
}
