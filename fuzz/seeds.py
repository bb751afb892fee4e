#!/usr/bin/env python3
"""Write the seed corpus of every fuzz target into fuzz/corpus/<target>/.

The seeds are the project's own vectors, nothing else: the fixtures under
fixtures/messages/ (hex files decoded, text files as they are), the byte-string
literals of the codecs' unit tests (src/codec), and the bytes of the encoder
snapshots (src/codec/snapshots: hex dumps and escaped wire text). A few seeds
are composed from those: streams of several messages for the framing loops,
`content-type LF body` for the PAP envelope, segments for WDP.

Run from anywhere: python3 fuzz/seeds.py. Existing corpus files are kept (the
names are content hashes), so it can be rerun after a fuzzing session.
"""

import hashlib
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIX = ROOT / "fixtures" / "messages"
CODEC = ROOT / "src" / "codec"
SNAP = CODEC / "snapshots"
OUT = ROOT / "fuzz" / "corpus"


def hex_fixture(path):
    """Octets of a .hex fixture: hex pairs, `#` comments to the end of a line."""
    text = "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())
    return bytes.fromhex("".join(text.split()))


ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0", "\\": b"\\", '"': b'"', "'": b"'"}


def unescape_rust(body):
    """A Rust byte-string literal's bytes (escapes, line continuations)."""
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = body[i + 1]
        if n == "x":
            out.append(int(body[i + 2 : i + 4], 16))
            i += 4
        elif n == "\n":
            i += 2
            while i < len(body) and body[i] in " \t\n":
                i += 1
        else:
            out += ESCAPES.get(n, b"")
            i += 2
    return bytes(out)


def byte_strings(path, min_len=8):
    """Every b"..." literal in a Rust file, at least min_len bytes long."""
    src = path.read_text()
    found = []
    for m in re.finditer(r'(?<![A-Za-z0-9_])b"((?:[^"\\]|\\.|\\\n)*)"', src, re.S):
        try:
            b = unescape_rust(m.group(1))
        except (ValueError, IndexError):
            continue
        if len(b) >= min_len:
            found.append(b)
    return found


def snapshot_body(path):
    return path.read_text().split("\n---\n", 1)[-1]


def snapshot_hex(path):
    """Octets of a snapshot that is a hex dump (`0000  8C 80 …  |…|`) or hex pairs."""
    out = bytearray()
    for line in snapshot_body(path).splitlines():
        m = re.match(r"^[0-9A-F]{4}  ((?:[0-9A-F]{2}  ?)+)\s*\|", line + " ")
        if m:
            out += bytes.fromhex("".join(m.group(1).split()))
        elif re.fullmatch(r"(?:[0-9A-F]{2} )*[0-9A-F]{2}", line.strip()):
            out += bytes.fromhex("".join(line.split()))
    return bytes(out)


def unescape_shown(text):
    """Bytes from the codecs' escape_bytes form (\\r \\n \\t \\xHH)."""
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            n = text[i + 1]
            if n == "x":
                out.append(int(text[i + 2 : i + 4], 16))
                i += 4
                continue
            out += {"r": b"\r", "n": b"\n", "t": b"\t"}.get(n, n.encode())
            i += 2
            continue
        out += text[i].encode()
        i += 1
    return bytes(out)


def snapshot_wire(path):
    """The `---- wire ----` section of an HTTP snapshot, as bytes."""
    body = snapshot_body(path)
    if "---- wire ----\n" not in body:
        return None
    wire = body.split("---- wire ----\n", 1)[1]
    return unescape_shown("".join(wire.splitlines()))


def files(folder, suffix):
    return sorted((FIX / folder).glob("*" + suffix))


def snaps(codec):
    return sorted(SNAP.glob(f"liaison__codec__{codec}__tests__*.snap"))


def crlf(text_bytes):
    return re.sub(rb"\r?\n", b"\r\n", text_bytes)


def main():
    seeds = {
        t: []
        for t in ["mms", "wsp", "wdp", "sip", "msrp", "smpp", "sdp", "http", "pap", "ws_frames"]
        + ["sip_dialogue", "smtp_dialogue"]
    }

    # MMS: fixtures, snapshot hex dumps, test literals.
    mms = [hex_fixture(p) for p in files("mms", ".hex")]
    mms += [b for b in map(snapshot_hex, snaps("mms")) if b]
    seeds["mms"] += mms + byte_strings(CODEC / "mms" / "tests.rs")

    # WSP push: fixtures, snapshots, test literals.
    wsp = [hex_fixture(p) for p in files("wsp", ".hex")]
    wsp += [b for b in map(snapshot_hex, snaps("wsp")) if b]
    seeds["wsp"] += wsp + byte_strings(CODEC / "wsp.rs")

    # WDP: the round trip (odd first octet: ports 2948 <- 9200, reference, order
    # seed, datagram) over the WSP and MMS vectors; free-form segments (even
    # first octet) from the test literals, each as `len flags(UDHI) bytes`.
    for i, d in enumerate(wsp + mms):
        seeds["wdp"].append(bytes([1, 0x0B, 0x84, 0x23, 0xF0, i & 0xFF, 7]) + d)
    free = bytearray([0])
    for b in byte_strings(CODEC / "wdp.rs", min_len=2):
        free += bytes([len(b) & 0xFF, 2]) + b[:255]
    seeds["wdp"].append(bytes(free))

    # SIP: fixtures, a stream of all of them, test literals.
    sip = [p.read_bytes() for p in files("sip", ".sip")]
    seeds["sip"] += sip + byte_strings(CODEC / "sip.rs")
    seeds["sip"].append(b"\r\n\r\n".join(s for s in sip if b"Content-Length" in s))

    # MSRP: fixtures, a stream of them, test literals, a three-chunk message.
    msrp = [p.read_bytes() for p in files("msrp", ".msrp")]
    seeds["msrp"] += msrp + byte_strings(CODEC / "msrp.rs") + [b"".join(msrp)]
    chunks = b""
    for i, (rng, flag, body) in enumerate(
        [("1-5/11", b"+", b"hello"), ("7-11/11", b"$", b"world"), ("6-6/11", b"+", b" ")]
    ):
        tid = b"tid%04d" % i
        chunks += (
            b"MSRP " + tid + b" SEND\r\nTo-Path: msrp://127.0.0.1:2855/b;tcp\r\n"
            b"From-Path: msrp://127.0.0.1:2856/a;tcp\r\nMessage-ID: m1\r\n"
            b"Byte-Range: " + rng.encode() + b"\r\nContent-Type: text/plain\r\n\r\n"
            + body + b"\r\n-------" + tid + flag + b"\r\n"
        )
    seeds["msrp"].append(chunks)

    # SMPP: fixtures, snapshots, test literals, a stream of all fixtures.
    smpp = [hex_fixture(p) for p in files("smpp", ".hex")]
    smpp += [b for b in map(snapshot_hex, snaps("smpp")) if b]
    seeds["smpp"] += smpp + byte_strings(CODEC / "smpp.rs") + [b"".join(smpp)]

    # SDP: the MSRP fixtures' descriptions, the snapshot (CRLF), test literals.
    seeds["sdp"] += [p.read_bytes() for p in files("msrp", ".sdp")]
    seeds["sdp"] += [crlf(snapshot_body(p).encode()) for p in snaps("sdp")]
    seeds["sdp"] += byte_strings(CODEC / "sdp.rs")

    # HTTP: snapshot wire bytes, test literals, the PAP envelope POSTed.
    http = [w for w in map(snapshot_wire, snaps("http")) if w]
    http += byte_strings(CODEC / "http.rs")
    mime = (FIX / "pap" / "multipart_related.mime").read_bytes()
    http.append(
        b"POST /pap HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/related; "
        b'boundary="liaison-7f3a"; type="application/xml"\r\nContent-Length: '
        + str(len(mime)).encode() + b"\r\n\r\n" + mime
    )
    seeds["http"] += http + [b"".join(http[:3])]

    # PAP: documents, the envelope as `content-type LF body`, snapshots, literals.
    seeds["pap"] += [p.read_bytes() for p in files("pap", ".xml")]
    seeds["pap"].append(
        b'Multipart/Related; boundary="liaison-7f3a"; type="application/xml"; start="<pap>"\n'
        + mime
    )
    for p in snaps("pap"):
        body = snapshot_body(p)
        if body.startswith("Content-Type: "):
            ct, _, rest = body[len("Content-Type: ") :].partition("\n\n")
            seeds["pap"].append(ct.encode() + b"\n" + unescape_shown(rest.strip("\n")))
        else:
            seeds["pap"].append(body.encode())
    seeds["pap"] += byte_strings(CODEC / "pap.rs")

    # WebSocket: the frame snapshots (one stream of them, behind each side
    # octet), the handshake snapshots' wire bytes, the codec's test literals.
    frames = b"".join(b for b in map(snapshot_hex, snaps("ws")) if b)
    seeds["ws_frames"] += [bytes([side]) + frames for side in (0, 1, 0x80, 0x81)]
    seeds["ws_frames"] += [w for w in map(snapshot_wire, snaps("ws")) if w]
    seeds["ws_frames"] += byte_strings(CODEC / "ws.rs", min_len=2)

    # SIP dialogue: datagrams cut at NUL. Each fixture alone, all of them in
    # a row, and a composed dialogue through the core: REGISTERs for the
    # core's own users and for the registrar SUT's domain (with and without
    # Supported: path), a MESSAGE to a registered user, an INVITE through the
    # core, its 486 back with both Vias, the ACK.
    seeds["sip_dialogue"] += sip + [b"\0".join(sip)]

    def req(method, ruri, aor, branch, extra=b""):
        return (
            method + b" " + ruri + b" SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5073;branch=z9hG4bK"
            + branch + b"\r\nMax-Forwards: 70\r\nFrom: <sip:carol@harness.test>;tag=f1\r\n"
            b"To: <" + aor + b">\r\nCall-ID: " + branch + b"@127.0.0.1\r\nCSeq: 1 " + method
            + b"\r\n" + extra + b"Content-Length: 0\r\n\r\n"
        )

    dialogue = [
        req(b"REGISTER", b"sip:harness.test", b"sip:bob@harness.test", b"r1",
            b"Contact: <sip:bob@127.0.0.1:5074>;expires=30;+g.oma.sip-im\r\n"),
        req(b"REGISTER", b"sip:ims.test", b"sip:dan@ims.test", b"r2",
            b"Contact: <sip:dan@127.0.0.1:5075>\r\nSupported: path\r\n"),
        req(b"REGISTER", b"sip:ims.test", b"sip:dan@ims.test", b"r3",
            b"Contact: <sip:dan@127.0.0.1:5075>\r\n"),
        req(b"MESSAGE", b"sip:bob@harness.test", b"sip:bob@harness.test", b"m1",
            b"Route: <sip:127.0.0.1:5060;lr>\r\nAccept-Contact: *;+g.oma.sip-im;explicit;require\r\n"
            b"P-Preferred-Identity: <sip:carol@harness.test>\r\n"),
        req(b"INVITE", b"sip:alice@harness.test", b"sip:alice@harness.test", b"i1"),
        b"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKcscf0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5073;branch=z9hG4bKi1;received=127.0.0.1;rport=5073\r\n"
        b"From: <sip:carol@harness.test>;tag=f1\r\nTo: <sip:alice@harness.test>;tag=t9\r\n"
        b"Call-ID: i1@127.0.0.1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
        req(b"ACK", b"sip:alice@harness.test", b"sip:alice@harness.test", b"i1"),
        req(b"OPTIONS", b"sip:127.0.0.1:5060", b"sip:127.0.0.1:5060", b"o1"),
        req(b"MESSAGE", b"tel:+15550100", b"tel:+15550100", b"m2", b"Max-Forwards: 0\r\n"),
    ]
    seeds["sip_dialogue"] += dialogue + [b"\0".join(dialogue)]

    # SMTP dialogue: first octet even for the server (a client's commands),
    # odd for the client (a server's replies); the codec's test literals
    # both ways.
    smtp = byte_strings(CODEC / "smtp.rs", min_len=3)
    seeds["smtp_dialogue"] += [b"\0" + b for b in smtp] + [b"\1" + b for b in smtp]
    seeds["smtp_dialogue"] += [
        b"\0EHLO client.test\r\nMAIL FROM:<a@x.test> SIZE=20\r\nRCPT TO:<b@y.test>\r\n"
        b"RCPT TO:<c@y.test>\r\nDATA\r\nSubject: hi\r\n\r\n..dot\r\nbody\r\n.\r\n"
        b"RSET\r\nHELO c\r\nNOOP\r\nVRFY b\r\nDATA\r\nRCPT TO:<b@y>\r\nQUIT\r\n",
        b"\0EHLO c\nMAIL FROM:<>\nRCPT TO:<b@y>\nDATA\n.\n",
        b"\x01220 mm3.test ESMTP\r\n250-mm3.test\r\n250-8BITMIME\r\n250-SIZE 4194304\r\n"
        b"250 HELP\r\n250 2.1.0 Ok\r\n354 go ahead\r\n250 2.0.0 queued\r\n221 Bye\r\n",
    ]

    for target, items in seeds.items():
        folder = OUT / target
        folder.mkdir(parents=True, exist_ok=True)
        for b in items:
            (folder / hashlib.sha1(b).hexdigest()).write_bytes(b)
        print(f"{target}: {len(set(items))} seeds in {folder.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
