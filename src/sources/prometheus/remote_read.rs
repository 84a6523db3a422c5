//! Prometheus's remote-read API (`POST /api/v1/read`) with the streamed XOR-chunk response:
//! the server sends the chunks it stores without decoding them, and podsizer decodes them.
//!
//! Request: a snappy-compressed (block format) protobuf `ReadRequest` (`prompb/remote.proto`).
//! Response (`application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse`): frames
//! of `uvarint(length)`, a big-endian CRC32-Castagnoli of the message, and the message (a
//! `ChunkedReadResponse`: series labels, chunks, the index of the query they answer).
//! Only the few messages needed are written here, field numbers from `remote.proto` and
//! `types.proto`.

use super::chunks::decode_xor;
use super::client::{Client, Payload};
use super::query::{is_label_name, regex_escape, Scope};
use super::{Labels, PrometheusError, Setting, MEMORY_METRIC};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

/// The response type asked for: `ReadRequest.ResponseType.STREAMED_XOR_CHUNKS`.
const STREAMED_XOR_CHUNKS: u64 = 1;
/// `Chunk.Encoding.XOR`.
const ENCODING_XOR: u64 = 1;
pub(crate) const STREAMED_CONTENT_TYPE: &str = "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";
/// A frame larger than this is refused as corrupt (Prometheus sends about 1 MB per frame).
const MAX_FRAME_BYTES: u64 = 64 << 20;

/// `LabelMatcher.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    Equal = 0,
    NotEqual = 1,
    Regex = 2,
    NotRegex = 3,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub kind: MatchType,
    pub name: String,
    pub value: String,
}

impl Matcher {
    pub fn new(kind: MatchType, name: &str, value: &str) -> Self {
        Self { kind, name: name.to_string(), value: value.to_string() }
    }
}

/// One query of a read request: series matching all matchers, samples in `[start, end]`.
#[derive(Debug, Clone)]
pub struct ReadQuery {
    pub start_ms: i64,
    pub end_ms: i64,
    pub matchers: Vec<Matcher>,
    /// What PromQL would do with the samples (`rate`, range), a hint the server may use.
    pub hint_func: Option<(String, i64)>,
    pub step_ms: i64,
}

/// A series of a read response with its decoded samples, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSeries {
    pub labels: Labels,
    pub samples: Vec<(i64, f64)>,
}

// ---------------------------------------------------------------------------------------------
// Matchers from the import's scope

/// Parses `--selector` text (`job="kubelet",cluster=~"eu.*"`) into matchers.
pub(crate) fn parse_matchers(text: &str) -> Result<Vec<Matcher>, PrometheusError> {
    let bad = |why: &str| PrometheusError::config(Setting::Selector, text, why);
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let name_len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        let name = &rest[..name_len];
        if !is_label_name(name) {
            return Err(bad("expected a label name"));
        }
        rest = rest[name_len..].trim_start();
        let (kind, op_len) = match rest.get(..2) {
            Some("=~") => (MatchType::Regex, 2),
            Some("!~") => (MatchType::NotRegex, 2),
            Some("!=") => (MatchType::NotEqual, 2),
            _ if rest.starts_with('=') => (MatchType::Equal, 1),
            _ => return Err(bad(&format!("expected =, !=, =~ or !~ after `{name}`"))),
        };
        rest = rest[op_len..].trim_start();
        let (value, used) = unquote(rest).ok_or_else(|| bad(&format!("expected a quoted value for `{name}`")))?;
        out.push(Matcher { kind, name: name.to_string(), value });
        rest = rest[used..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok(out)
}

/// A PromQL string literal at the start of `text`: its value and the bytes it took.
fn unquote(text: &str) -> Option<(String, usize)> {
    let quote = text.chars().next().filter(|c| "\"'`".contains(*c))?;
    let mut value = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Some((value, i + 1)),
            '\\' if quote != '`' => {
                let (_, e) = chars.next()?;
                value.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    other => other,
                });
            }
            c => value.push(c),
        }
    }
    None
}

/// Matchers of one usage metric for a batch of pods (`pods` empty: no pod restriction): the
/// same series `usage_queries` selects.
pub(crate) fn usage_matchers(
    scope: &Scope,
    metric: &str,
    pods: &[(String, String)],
) -> Result<Vec<Matcher>, PrometheusError> {
    let alternatives = |values: &mut dyn Iterator<Item = &str>| {
        let set: std::collections::BTreeSet<&str> = values.collect();
        set.into_iter().map(regex_escape).collect::<Vec<_>>().join("|")
    };
    let mut m = vec![
        Matcher::new(MatchType::Equal, "__name__", metric),
        Matcher::new(MatchType::NotEqual, "container", ""),
        Matcher::new(MatchType::NotEqual, "container", "POD"),
    ];
    if let Some((name, value)) = &scope.cluster {
        m.push(Matcher::new(MatchType::Equal, name, value));
    }
    let batch_namespaces: std::collections::BTreeSet<&str> = pods.iter().map(|(ns, _)| ns.as_str()).collect();
    let restrict_by_batch =
        !pods.is_empty() && (scope.namespaces.is_empty() || batch_namespaces.len() < scope.namespaces.len());
    if restrict_by_batch {
        m.push(Matcher::new(MatchType::Regex, "namespace", &alternatives(&mut batch_namespaces.into_iter())));
    } else if !scope.namespaces.is_empty() {
        m.push(Matcher::new(
            MatchType::Regex,
            "namespace",
            &alternatives(&mut scope.namespaces.iter().map(String::as_str)),
        ));
    }
    if !pods.is_empty() {
        m.push(Matcher::new(MatchType::Regex, "pod", &alternatives(&mut pods.iter().map(|(_, p)| p.as_str()))));
    }
    if let Some(sel) = &scope.selector {
        m.extend(parse_matchers(sel)?);
    }
    Ok(m)
}

// ---------------------------------------------------------------------------------------------
// Protobuf: the request

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire_type));
}

fn put_int(out: &mut Vec<u8>, field: u32, v: i64) {
    if v != 0 {
        put_key(out, field, 0);
        put_varint(out, v as u64);
    }
}

fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn matcher_message(m: &Matcher) -> Vec<u8> {
    let mut out = Vec::new();
    put_int(&mut out, 1, m.kind as i64);
    put_bytes(&mut out, 2, m.name.as_bytes());
    put_bytes(&mut out, 3, m.value.as_bytes());
    out
}

fn hints_message(q: &ReadQuery) -> Vec<u8> {
    let mut out = Vec::new();
    put_int(&mut out, 1, q.step_ms);
    if let Some((func, _)) = &q.hint_func {
        put_bytes(&mut out, 2, func.as_bytes());
    }
    put_int(&mut out, 3, q.start_ms);
    put_int(&mut out, 4, q.end_ms);
    if let Some((_, range_ms)) = &q.hint_func {
        put_int(&mut out, 7, *range_ms);
    }
    out
}

fn query_message(q: &ReadQuery) -> Vec<u8> {
    let mut out = Vec::new();
    put_int(&mut out, 1, q.start_ms);
    put_int(&mut out, 2, q.end_ms);
    for m in &q.matchers {
        put_bytes(&mut out, 3, &matcher_message(m));
    }
    put_bytes(&mut out, 4, &hints_message(q));
    out
}

/// The protobuf `ReadRequest` (uncompressed) asking for streamed XOR chunks.
pub(crate) fn encode_read_request(queries: &[ReadQuery]) -> Vec<u8> {
    let mut out = Vec::new();
    for q in queries {
        put_bytes(&mut out, 1, &query_message(q));
    }
    // accepted_response_types, packed.
    put_bytes(&mut out, 2, &[STREAMED_XOR_CHUNKS as u8]);
    out
}

/// The request body as sent: snappy block format.
pub(crate) fn compress(message: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(message).expect("snappy compresses any input")
}

// ---------------------------------------------------------------------------------------------
// Protobuf: the response

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// Fields of one protobuf message, in order; unknown fields are returned too (and skipped).
struct Fields<'a> {
    bytes: &'a [u8],
}

fn varint(bytes: &mut &[u8]) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first().ok_or("message ends inside a varint")?;
        *bytes = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint longer than 10 bytes".into())
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.bytes.is_empty() {
            return None;
        }
        Some((|| {
            let key = varint(&mut self.bytes)?;
            let field = (key >> 3) as u32;
            let value = match key & 7 {
                0 => Value::Varint(varint(&mut self.bytes)?),
                1 | 5 => {
                    let n = if key & 7 == 1 { 8 } else { 4 };
                    if self.bytes.len() < n {
                        return Err("message ends inside a fixed-width field".to_string());
                    }
                    self.bytes = &self.bytes[n..];
                    Value::Fixed
                }
                2 => {
                    let n = varint(&mut self.bytes)? as usize;
                    if self.bytes.len() < n {
                        return Err(format!("field {field} claims {n} bytes, {} left", self.bytes.len()));
                    }
                    let (value, rest) = self.bytes.split_at(n);
                    self.bytes = rest;
                    Value::Bytes(value)
                }
                other => return Err(format!("unsupported wire type {other}")),
            };
            Ok((field, value))
        })())
    }
}

fn fields(bytes: &[u8]) -> Fields<'_> {
    Fields { bytes }
}

fn text(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "label is not UTF-8".to_string())
}

fn decode_label(bytes: &[u8]) -> Result<(String, String), String> {
    let (mut name, mut value) = (String::new(), String::new());
    for f in fields(bytes) {
        match f? {
            (1, Value::Bytes(b)) => name = text(b)?,
            (2, Value::Bytes(b)) => value = text(b)?,
            _ => {}
        }
    }
    Ok((name, value))
}

fn decode_chunk(bytes: &[u8], out: &mut Vec<(i64, f64)>) -> Result<(), String> {
    let (mut encoding, mut data) = (0, &[][..]);
    for f in fields(bytes) {
        match f? {
            (3, Value::Varint(v)) => encoding = v,
            (4, Value::Bytes(b)) => data = b,
            _ => {}
        }
    }
    if encoding != ENCODING_XOR {
        return Err(format!("chunk encoding {encoding} is not XOR (native histograms are not read)"));
    }
    out.extend(decode_xor(data).map_err(|e| e.to_string())?);
    Ok(())
}

/// One `ChunkedReadResponse`: (query index, series with their samples).
pub(crate) fn decode_chunked_response(bytes: &[u8]) -> Result<(usize, Vec<RawSeries>), String> {
    let mut query = 0;
    let mut series = Vec::new();
    for f in fields(bytes) {
        match f? {
            (1, Value::Bytes(b)) => {
                let mut s = RawSeries { labels: Labels::new(), samples: Vec::new() };
                for f in fields(b) {
                    match f? {
                        (1, Value::Bytes(l)) => {
                            let (name, value) = decode_label(l)?;
                            s.labels.insert(name, value);
                        }
                        (2, Value::Bytes(c)) => decode_chunk(c, &mut s.samples)?,
                        _ => {}
                    }
                }
                series.push(s);
            }
            (2, Value::Varint(v)) => query = v as usize,
            _ => {}
        }
    }
    Ok((query, series))
}

// ---------------------------------------------------------------------------------------------
// Framing

const fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0x82F6_3B78 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC32C: [u32; 256] = crc32c_table();

/// CRC-32C (Castagnoli), as Go's `crc32.MakeTable(crc32.Castagnoli)`.
pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |c, &b| CRC32C[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8))
}

/// Splits a streamed body into its frames' messages, checking each frame's CRC.
pub(crate) fn frames(mut body: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let len = varint(&mut body).map_err(|e| format!("frame header: {e}"))?;
        if len > MAX_FRAME_BYTES || body.len() < 4 + len as usize {
            return Err(format!("frame of {len} bytes, {} left in the response", body.len().saturating_sub(4)));
        }
        let expected = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        let message = &body[4..4 + len as usize];
        let actual = crc32c(message);
        if actual != expected {
            return Err(format!("frame CRC mismatch (sent {expected:08x}, computed {actual:08x})"));
        }
        out.push(message);
        body = &body[4 + len as usize..];
    }
    Ok(out)
}

/// Decodes a whole streamed response into the series of each query (samples merged across
/// frames, sorted, duplicates dropped, kept to the query's time range).
pub(crate) fn decode_stream(body: &[u8], queries: &[ReadQuery]) -> Result<Vec<Vec<RawSeries>>, String> {
    let mut by_query: Vec<BTreeMap<Labels, Vec<(i64, f64)>>> = vec![BTreeMap::new(); queries.len()];
    for message in frames(body)? {
        let (index, series) = decode_chunked_response(message)?;
        let q = queries.get(index).ok_or_else(|| format!("answer to query {index}, only {} asked", queries.len()))?;
        for s in series {
            let slot = by_query[index].entry(s.labels).or_default();
            slot.extend(s.samples.into_iter().filter(|(t, _)| (q.start_ms..=q.end_ms).contains(t)));
        }
    }
    Ok(by_query
        .into_iter()
        .map(|series| {
            series
                .into_iter()
                .map(|(labels, mut samples)| {
                    samples.sort_by_key(|s| s.0);
                    samples.dedup_by_key(|s| s.0);
                    RawSeries { labels, samples }
                })
                .collect()
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Over HTTP

/// True when an error means "this server does not serve remote read" (a 404 or 405 from a
/// gateway, a body that is not streamed chunks), as opposed to a failure query_range would
/// meet too (unreachable, unauthorised, overloaded).
pub(crate) fn is_refusal(e: &PrometheusError) -> bool {
    match e {
        PrometheusError::NoRemoteRead { .. } | PrometheusError::Api { .. } => true,
        PrometheusError::Status { status, .. } => matches!(status, 400 | 404 | 405 | 406 | 415 | 422 | 501),
        _ => false,
    }
}

impl Client {
    /// One remote-read request: the series of each query with their raw samples.
    pub fn remote_read(&self, queries: &[ReadQuery]) -> Result<Vec<Vec<RawSeries>>, PrometheusError> {
        self.stats.remote_reads.fetch_add(1, Ordering::Relaxed);
        let body = compress(&encode_read_request(queries));
        let (content_type, answer) = self.send("read", &Payload::Snappy(&body))?;
        let url = format!("{}/api/v1/read", self.url());
        if !content_type.starts_with("application/x-streamed-protobuf") {
            let head: String =
                String::from_utf8_lossy(&answer[..answer.len().min(120)]).chars().filter(|c| !c.is_control()).collect();
            return Err(PrometheusError::NoRemoteRead {
                url,
                message: format!(
                    "answered with content type {content_type:?}, not {STREAMED_CONTENT_TYPE:?}; body starts with {head:?}"
                ),
            });
        }
        let series =
            decode_stream(&answer, queries).map_err(|message| PrometheusError::BadResponse { url, message })?;
        let all = series.iter().flatten();
        self.stats.series.fetch_add(all.clone().count() as u64, Ordering::Relaxed);
        self.stats.samples.fetch_add(all.map(|s| s.samples.len() as u64).sum(), Ordering::Relaxed);
        Ok(series)
    }

    /// Asks for the scope's memory series with a pod label both empty and not: no series can
    /// match, so a server with remote read answers with an empty stream, one without it
    /// refuses, and matchers the server cannot parse are found before any batch.
    pub fn probe_remote_read(&self, scope: &Scope, at_ms: i64) -> Result<(), PrometheusError> {
        let mut matchers = usage_matchers(scope, MEMORY_METRIC, &[])?;
        matchers.push(Matcher::new(MatchType::Equal, "pod", ""));
        matchers.push(Matcher::new(MatchType::NotEqual, "pod", ""));
        let query = ReadQuery { start_ms: at_ms, end_ms: at_ms, matchers, hint_func: None, step_ms: 0 };
        self.remote_read(&[query]).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::super::chunks::tests::encode_xor;
    use super::*;

    #[test]
    fn crc32c_matches_the_published_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn matchers_parse_like_promql() {
        let m = parse_matchers(r#"job="kubelet", cluster=~'eu.*' ,x!="a\"b",y!~`c\d`"#).unwrap();
        assert_eq!(
            m,
            vec![
                Matcher::new(MatchType::Equal, "job", "kubelet"),
                Matcher::new(MatchType::Regex, "cluster", "eu.*"),
                Matcher::new(MatchType::NotEqual, "x", "a\"b"),
                Matcher::new(MatchType::NotRegex, "y", r"c\d"),
            ]
        );
        assert!(parse_matchers("job=kubelet").is_err());
        assert!(parse_matchers(r#"1job="x""#).is_err());
        assert!(parse_matchers(r#"job>"x""#).is_err());
    }

    #[test]
    fn usage_matchers_follow_the_promql_selector() {
        let scope = Scope {
            namespaces: vec!["shop".into(), "a.b".into()],
            cluster: Some(("cluster".into(), "prod".into())),
            selector: Some(r#"job="kubelet""#.into()),
        };
        let m = usage_matchers(&scope, "m", &[("shop".into(), "api-1.x".into())]).unwrap();
        let text: Vec<String> = m.iter().map(|m| format!("{}{:?}{}", m.name, m.kind, m.value)).collect();
        assert_eq!(
            text,
            [
                "__name__Equalm",
                "containerNotEqual",
                "containerNotEqualPOD",
                "clusterEqualprod",
                "namespaceRegexshop",
                r"podRegexapi-1\.x",
                "jobEqualkubelet"
            ]
        );
    }

    /// Encodes a ChunkedReadResponse the way the server does, for the decoder tests.
    fn response_frame(index: i64, labels: &[(&str, &str)], chunks: &[Vec<(i64, f64)>]) -> Vec<u8> {
        let mut series = Vec::new();
        for (n, v) in labels {
            let mut l = Vec::new();
            put_bytes(&mut l, 1, n.as_bytes());
            put_bytes(&mut l, 2, v.as_bytes());
            put_bytes(&mut series, 1, &l);
        }
        for c in chunks {
            let mut chunk = Vec::new();
            put_int(&mut chunk, 1, c[0].0);
            put_int(&mut chunk, 2, c.last().unwrap().0);
            put_int(&mut chunk, 3, ENCODING_XOR as i64);
            put_bytes(&mut chunk, 4, &encode_xor(c));
            put_bytes(&mut series, 2, &chunk);
        }
        let mut message = Vec::new();
        put_bytes(&mut message, 1, &series);
        put_int(&mut message, 2, index);
        let mut frame = Vec::new();
        put_varint(&mut frame, message.len() as u64);
        frame.extend(crc32c(&message).to_be_bytes());
        frame.extend(message);
        frame
    }

    #[test]
    fn streamed_frames_decode_merge_and_check_crc() {
        let q = |start, end| ReadQuery { start_ms: start, end_ms: end, matchers: vec![], hint_func: None, step_ms: 0 };
        let queries = [q(0, 1_000_000), q(120_000, 300_000)];
        let a: Vec<(i64, f64)> = (0..5).map(|i| (i * 60_000, i as f64)).collect();
        let b: Vec<(i64, f64)> = (5..9).map(|i| (i * 60_000, i as f64)).collect();
        let mut body = response_frame(0, &[("pod", "p")], std::slice::from_ref(&a));
        body.extend(response_frame(0, &[("pod", "p")], std::slice::from_ref(&b)));
        body.extend(response_frame(1, &[("pod", "q")], &[a.clone(), b.clone()]));
        let got = decode_stream(&body, &queries).unwrap();
        assert_eq!(got[0].len(), 1);
        assert_eq!(got[0][0].samples.len(), 9, "frames of one series are merged");
        assert_eq!(got[1][0].labels["pod"], "q");
        let times: Vec<i64> = got[1][0].samples.iter().map(|s| s.0).collect();
        assert_eq!(times, vec![120_000, 180_000, 240_000, 300_000], "kept to the query's range");
        let mut corrupt = body.clone();
        let last = corrupt.len() - 1;
        corrupt[last] ^= 1;
        assert!(decode_stream(&corrupt, &queries).unwrap_err().contains("CRC"));
        assert!(decode_stream(&body[..body.len() - 2], &queries).is_err());
        assert!(decode_stream(&response_frame(2, &[], &[a]), &queries).unwrap_err().contains("query 2"));
    }

    #[test]
    fn request_encodes_queries_matchers_and_response_type() {
        let query = ReadQuery {
            start_ms: 1_000,
            end_ms: 2_000,
            matchers: vec![Matcher::new(MatchType::Regex, "pod", "a|b")],
            hint_func: Some(("rate".into(), 60_000)),
            step_ms: 60_000,
        };
        let bytes = encode_read_request(&[query]);
        let top: Vec<(u32, Vec<u8>)> = fields(&bytes)
            .map(|f| match f.unwrap() {
                (n, Value::Bytes(b)) => (n, b.to_vec()),
                (n, _) => (n, vec![]),
            })
            .collect();
        assert_eq!(top.len(), 2);
        assert_eq!(top[1], (2, vec![1]), "streamed XOR chunks accepted");
        let q: Vec<(u32, u64)> = fields(&top[0].1)
            .map(|f| match f.unwrap() {
                (n, Value::Varint(v)) => (n, v),
                (n, Value::Bytes(b)) => (n, b.len() as u64),
                (n, Value::Fixed) => (n, 0),
            })
            .collect();
        assert_eq!(q[0], (1, 1_000));
        assert_eq!(q[1], (2, 2_000));
        assert_eq!(q[2].0, 3);
        assert_eq!(q[3].0, 4);
        let body = compress(&bytes);
        assert_eq!(snap::raw::Decoder::new().decompress_vec(&body).unwrap(), bytes);
    }
}
