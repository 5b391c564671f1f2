//! Finding the input files and splitting their decompressed bytes into records.
//!
//! Inputs are files or directories (walked recursively, hidden entries included, symlinks
//! followed as `std::fs::metadata` does). A file is gzip when it starts with the gzip magic
//! bytes `1f 8b`, whatever its name; otherwise it is read as it is.
//!
//! The content may be
//! - CloudTrail's `{"Records":[{...},{...}]}` (other top-level keys are ignored),
//! - JSON lines / concatenated JSON objects, one record each,
//! - a top-level array of records.
//!
//! [`RecordSplitter`] finds the byte range of each record with a small scanner that only
//! tracks strings and nesting, and hands each range to a callback, which parses it with
//! `serde_json::from_slice` (so fields can be borrowed from the buffer). Memory stays at
//! one read chunk plus the largest record, whatever the size of the file.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use super::error::ReplayError;
use super::scan::{find_quote_or_backslash, skip_container, Skip};

/// An input file with its size on disk (used to schedule big files first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// Path of the file.
    pub path: PathBuf,
    /// Size in bytes (compressed size for gzip files).
    pub len: u64,
}

/// Directories that hold no CloudTrail records and are not walked: CloudTrail's digest
/// files (`AWSLogs/ACCOUNT/CloudTrail-Digest/...`) are JSON objects that are not records.
pub const SKIPPED_DIRS: &[&str] = &["CloudTrail-Digest"];

/// Expand files and directories (recursively) into the list of files, sorted by path and
/// without duplicates. Directories named in [`SKIPPED_DIRS`] are not entered when found
/// while walking (they are when given explicitly); a directory reached again through a
/// symbolic link is walked once.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<InputFile>, ReplayError> {
    if paths.is_empty() {
        return Err(ReplayError::NoInputs);
    }
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for p in paths {
        walk(p, true, &mut seen, &mut out)?;
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

fn walk(
    path: &Path,
    given: bool,
    seen: &mut std::collections::HashSet<PathBuf>,
    out: &mut Vec<InputFile>,
) -> Result<(), ReplayError> {
    let err = |source| ReplayError::Input {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(err)?;
    if meta.is_dir() {
        let skipped = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| SKIPPED_DIRS.contains(&n));
        if (skipped && !given) || !seen.insert(std::fs::canonicalize(path).map_err(err)?) {
            return Ok(());
        }
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(path).map_err(err)? {
            entries.push(entry.map_err(err)?.path());
        }
        entries.sort();
        for e in entries {
            walk(&e, false, seen, out)?;
        }
    } else if meta.is_file() {
        out.push(InputFile {
            path: path.to_path_buf(),
            len: meta.len(),
        });
    }
    Ok(())
}

/// Size of one read from the (decompressed) stream.
pub const CHUNK: usize = 64 * 1024;

/// Refuse records larger than this (a record is a few KiB; a giant one means the input is
/// not CloudTrail and would otherwise grow the buffer without bound).
pub const MAX_RECORD: usize = 64 * 1024 * 1024;

/// Open a file, transparently decompressing gzip (detected by its magic bytes).
pub fn open(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    let mut reader = BufReader::with_capacity(CHUNK, File::open(path)?);
    let head = reader.fill_buf()?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        Ok(Box::new(MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

/// Receives the records found by a [`RecordSplitter`].
pub trait RecordSink {
    /// A complete record: exactly the bytes of one JSON object.
    fn record(&mut self, bytes: &[u8]);

    /// `bytes` starts with a record's `{` and runs to the end of the buffered input. A sink
    /// that can parse the record from there handles it and returns its length; `None`
    /// (the default) when the record is incomplete or malformed: the splitter then finds
    /// its end itself and calls [`record`](Self::record), or reads more input first.
    fn record_prefix(&mut self, bytes: &[u8]) -> Option<usize> {
        let _ = bytes;
        None
    }
}

/// Streaming splitter of a JSON byte stream into record objects (see the module docs).
#[derive(Debug)]
pub struct RecordSplitter {
    buf: Vec<u8>,
    /// Bytes consumed from the stream before `buf[0]`.
    base: u64,
}

impl Default for RecordSplitter {
    fn default() -> Self {
        Self::new()
    }
}

/// Scanner state that survives buffer refills.
#[derive(Debug, Default)]
struct State {
    depth: usize,
    in_string: bool,
    escape: bool,
    /// Objects opened at this depth (before the `{`) are records.
    record_depth: Option<usize>,
    /// Inside a top-level object.
    top_obj: bool,
    /// Start offset of the top-level object while it may still be a record (it is one
    /// unless it holds `Records`; then this is cleared so the buffer can be compacted).
    top_start: Option<usize>,
    /// Inside a top-level object, a key is expected next.
    expect_key: bool,
    /// Start of the key string being read at depth 1 (offset of the opening quote).
    key_start: Option<usize>,
    /// The last key read at depth 1 was `Records` and its value has not started yet.
    records_key: bool,
    /// The top-level object turned out to be an envelope (`Records` seen).
    envelope: bool,
}

impl RecordSplitter {
    /// A splitter with an empty buffer.
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            base: 0,
        }
    }

    /// Read `reader` to its end, calling `on_record` with the bytes of each record (a JSON
    /// object). See [`split_into`](Self::split_into) for a sink that parses records in the
    /// same pass as it finds their end.
    pub fn split<R: Read + ?Sized>(
        &mut self,
        reader: &mut R,
        on_record: impl FnMut(&[u8]),
    ) -> io::Result<u64> {
        struct Whole<F>(F);
        impl<F: FnMut(&[u8])> RecordSink for Whole<F> {
            fn record(&mut self, bytes: &[u8]) {
                (self.0)(bytes)
            }
        }
        self.split_into(reader, &mut Whole(on_record))
    }

    /// Read `reader` to its end, handing each record to `sink`
    /// object). Returns the number of decompressed bytes read. Fails on I/O errors, on JSON
    /// that breaks off, and on a record larger than [`MAX_RECORD`].
    pub fn split_into<R: Read + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        reader: &mut R,
        sink: &mut S,
    ) -> io::Result<u64> {
        let mut st = State::default();
        self.base = 0;
        // `self.buf` stays initialized between reads and files; `len` bytes of it are data.
        let mut len = 0usize;
        let mut pos = 0usize;
        loop {
            // Compact: keep only what a pending record or key still needs.
            let keep = [st.top_start, st.key_start]
                .into_iter()
                .flatten()
                .fold(pos, usize::min);
            if keep > 0 {
                self.buf.copy_within(keep..len, 0);
                len -= keep;
                self.base += keep as u64;
                pos -= keep;
                for v in [&mut st.top_start, &mut st.key_start].into_iter().flatten() {
                    *v -= keep;
                }
            }
            if len > MAX_RECORD {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "a JSON value near byte {} is larger than {} MiB: not a CloudTrail record",
                        self.base,
                        MAX_RECORD >> 20
                    ),
                ));
            }
            // Read at least a chunk, more when a long record is pending (so that a record
            // of n bytes is rescanned O(log n) times, not O(n / CHUNK)).
            let want = len + CHUNK.max(len);
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
            let n = loop {
                match reader.read(&mut self.buf[len..want]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            len += n;
            if n == 0 {
                let total = self.base + len as u64;
                if st.depth != 0 || st.in_string {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("JSON ends inside a value at byte {total}"),
                    ));
                }
                return Ok(total);
            }
            pos = scan(&self.buf[..len], pos, &mut st, self.base, sink)?;
        }
    }
}

fn bad(base: u64, at: usize, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{what} at byte {}", base + at as u64),
    )
}

/// Scan `buf[pos..]`, emitting complete records; returns where to resume (the end of the
/// buffer, or the start of a record that the buffer does not hold entirely yet).
fn scan<S: RecordSink + ?Sized>(
    buf: &[u8],
    mut pos: usize,
    st: &mut State,
    base: u64,
    sink: &mut S,
) -> io::Result<usize> {
    let end = buf.len();
    while pos < end {
        if st.in_string {
            if st.escape {
                st.escape = false;
                pos += 1;
                continue;
            }
            match find_quote_or_backslash(&buf[pos..]) {
                None => pos = end,
                Some(i) => {
                    pos += i;
                    if buf[pos] == b'\\' {
                        st.escape = true;
                    } else {
                        st.in_string = false;
                        if let Some(k) = st.key_start.take() {
                            st.records_key = &buf[k + 1..pos] == b"Records";
                            st.expect_key = false;
                        }
                    }
                    pos += 1;
                }
            }
            continue;
        }
        let c = buf[pos];
        match c {
            b'"' => {
                st.in_string = true;
                if st.depth == 1 && st.expect_key && st.top_obj {
                    st.key_start = Some(pos);
                }
            }
            b'{' if st.record_depth == Some(st.depth) && st.depth > 0 => {
                // A record inside `Records` (or a top-level array): let the sink parse it in
                // one pass; when it cannot, find its end here.
                if let Some(len) = sink.record_prefix(&buf[pos..]) {
                    pos += len;
                    continue;
                }
                match skip_container(buf, pos) {
                    Skip::End(e) => {
                        sink.record(&buf[pos..e]);
                        pos = e;
                        continue;
                    }
                    Skip::Incomplete => return Ok(pos),
                    Skip::Invalid(at) => return Err(bad(base, at, "mismatched bracket")),
                }
            }
            b'{' | b'[' => {
                if st.depth == 0 {
                    if c == b'{' {
                        st.top_obj = true;
                        st.top_start = Some(pos);
                        st.expect_key = true;
                        st.envelope = false;
                        st.records_key = false;
                    } else {
                        // a top-level array of records
                        st.record_depth = Some(1);
                    }
                } else if st.depth == 1 && st.top_obj {
                    if c == b'[' && st.records_key {
                        st.envelope = true;
                        st.top_start = None;
                        st.record_depth = Some(2);
                    }
                    st.records_key = false;
                }
                st.depth += 1;
            }
            b'}' | b']' => {
                if st.depth == 0 {
                    return Err(bad(base, pos, "unbalanced closing bracket"));
                }
                st.depth -= 1;
                if c == b']' && st.record_depth == Some(st.depth + 1) {
                    // end of the Records array (or of a top-level array)
                    st.record_depth = None;
                }
                if st.depth == 0 {
                    if let Some(s) = st.top_start.take() {
                        if c == b'}' && !st.envelope {
                            sink.record(&buf[s..=pos]);
                        }
                    }
                    st.top_obj = false;
                    st.envelope = false;
                    st.expect_key = false;
                    st.records_key = false;
                }
            }
            b',' => {
                if st.depth == 1 && st.top_obj {
                    st.expect_key = true;
                    st.records_key = false;
                }
            }
            b' ' | b'\n' | b'\r' | b'\t' | b':' => {}
            _ => {
                if st.depth == 0 {
                    return Err(bad(base, pos, "expected a JSON object or array"));
                }
                if st.depth == 1 && st.top_obj {
                    // a scalar value at depth 1 (e.g. "Records": null)
                    st.records_key = false;
                }
            }
        }
        pos += 1;
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(input: &[u8], chunk: usize) -> Result<Vec<String>, io::Error> {
        // A reader that returns at most `chunk` bytes per read, to exercise refills.
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(out.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = Vec::new();
        RecordSplitter::new().split(&mut Trickle(input, chunk), |r| {
            out.push(String::from_utf8(r.to_vec()).unwrap())
        })?;
        Ok(out)
    }

    #[test]
    fn envelope_lines_and_arrays() {
        let env = br#" {"Records": [ {"a":"x}\"{","b":[{"c":1}]}, {"a":2} ], "Other": [{"z":1}]} "#;
        for chunk in [1, 3, 7, 1 << 20] {
            assert_eq!(
                split_all(env, chunk).unwrap(),
                [r#"{"a":"x}\"{","b":[{"c":1}]}"#, r#"{"a":2}"#],
                "chunk {chunk}"
            );
        }
        let lines = b"{\"a\":1,\"Recordz\":[{\"q\":1}]}\n{\"a\":\"Records\"}\n\n";
        assert_eq!(
            split_all(lines, 2).unwrap(),
            [r#"{"a":1,"Recordz":[{"q":1}]}"#, r#"{"a":"Records"}"#]
        );
        // Records not the first key; a value named "Records" is not a key
        let late = br#"{"x":"Records","y":{"Records":[{"no":1}]},"Records":[{"yes":1}]}"#;
        assert_eq!(split_all(late, 4).unwrap(), [r#"{"yes":1}"#]);
        let arr = br#"[{"a":1},{"b":[2]}]"#;
        assert_eq!(split_all(arr, 5).unwrap(), [r#"{"a":1}"#, r#"{"b":[2]}"#]);
        assert_eq!(
            split_all(br#"{"Records":[]}"#, 5).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn discovery_skips_digests_and_symlink_loops() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("AWSLogs/111111111111/CloudTrail/us-east-1")).unwrap();
        std::fs::create_dir_all(d.join("AWSLogs/111111111111/CloudTrail-Digest/us-east-1"))
            .unwrap();
        std::fs::write(
            d.join("AWSLogs/111111111111/CloudTrail/us-east-1/a.json"),
            "{}",
        )
        .unwrap();
        std::fs::write(
            d.join("AWSLogs/111111111111/CloudTrail-Digest/us-east-1/d.json"),
            "{}",
        )
        .unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(d.join("AWSLogs"), d.join("AWSLogs/111111111111/loop")).unwrap();
        let files = discover(&[d.to_path_buf()]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.path.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["a.json"]);
        let digest = d.join("AWSLogs/111111111111/CloudTrail-Digest");
        assert_eq!(discover(&[digest]).unwrap().len(), 1);
    }

    #[test]
    fn truncated_and_garbage_fail() {
        assert!(split_all(br#"{"Records":[{"a":1},{"b":"#, 4).is_err());
        assert!(split_all(b"hello", 4).is_err());
        assert!(split_all(b"{}}", 4).is_err());
    }

    #[test]
    fn buffer_stays_bounded() {
        // 5 MiB of records in one envelope: the buffer never holds more than a chunk or two.
        struct Gen {
            next: usize,
            n: usize,
            pending: Vec<u8>,
        }
        impl Read for Gen {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if self.pending.is_empty() {
                    let i = self.next;
                    self.next += 1;
                    if i == 0 {
                        self.pending.extend_from_slice(b"{\"Records\":[");
                    } else if i <= self.n {
                        let sep = if i < self.n { "," } else { "" };
                        let pad = "x".repeat(1000);
                        let rec = format!("{{\"eventName\":\"E{i}\",\"pad\":\"{pad}\"}}{sep}");
                        self.pending.extend_from_slice(rec.as_bytes());
                    } else if i == self.n + 1 {
                        self.pending.extend_from_slice(b"]}");
                    } else {
                        return Ok(0);
                    }
                }
                let n = self.pending.len().min(out.len());
                out[..n].copy_from_slice(&self.pending[..n]);
                self.pending.drain(..n);
                Ok(n)
            }
        }
        let mut g = Gen {
            next: 0,
            n: 5_000,
            pending: Vec::new(),
        };
        let mut s = RecordSplitter::new();
        let mut n = 0;
        let total = s.split(&mut g, |_| n += 1).unwrap();
        assert_eq!(n, 5_000);
        assert!(total > 5_000_000);
        assert!(
            s.buf.capacity() <= 4 * CHUNK,
            "buffer grew to {}",
            s.buf.capacity()
        );
    }
}
