//! Text a remote server wrote (an error body, a Status message) on its way to a terminal or a
//! log: every source and output that prints server text passes it through [`server_message`].
//!
//! A server is not trusted to write to the user's terminal: control characters (terminal
//! escapes, carriage returns that overwrite a line, newlines that forge a log line) and the
//! invisible Unicode characters that reorder or hide text are removed, so what is printed is
//! what the server sent, on one line. A server also echoes what it was sent, often encoded
//! (a proxy's "no route for /services/T0%2FB0..."; a JSON error with `\/`; a base64 request
//! dump), so every plausible encoding of each secret is redacted, not only the raw text.

/// Characters of server text kept in a message: enough to diagnose, not a page of HTML.
pub const SERVER_TEXT_MAX_CHARS: usize = 300;

/// Shortest secret piece redacted on its own (shorter ones would blank common words).
const MIN_SECRET_LEN: usize = 8;

/// Server text made safe to print, secrets redacted, at most `max_chars` characters.
/// Redaction runs after cleaning (a control character inside an echoed secret cannot hide it)
/// and before cutting (a cut cannot leave half a secret that no longer matches).
pub fn server_message(raw: &str, redactor: &Redactor, max_chars: usize) -> String {
    truncate_chars(&redactor.apply(&sanitize(raw)), max_chars)
}

/// One line without control characters: line breaks, tabs and other white space become one
/// space; control characters and invisible format characters (bidirectional overrides,
/// zero-width characters, byte-order marks) are dropped.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else if c.is_control() || is_invisible_format(c) {
            continue;
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// Unicode format characters that reorder or hide the text around them.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// The host (and port) a redirect's `Location` points to, without scheme, credentials, path or
/// query (a URL's path or user part may hold a secret): `None` for a relative location, which
/// stays on the same host. Still server text: callers clean or redact it before printing.
pub fn location_host(location: &str) -> Option<&str> {
    let (_, rest) = location.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    Some(authority.rsplit_once('@').map_or(authority, |(_, host)| host))
}

/// The first `max_chars` characters, with `…` when something was cut.
pub fn truncate_chars(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_string(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

/// Replaces secrets, in every encoding a server plausibly echoes them in, by a label.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// (encoded secret, label), longest first so a whole URL goes before its parts.
    needles: Vec<(String, String)>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `secret` (a token, a password: raw whatever its length, and every encoding of it
    /// that is at least 8 characters long) to what is replaced by `label`.
    pub fn secret(mut self, secret: &str, label: &str) -> Self {
        for (i, needle) in encodings(secret).into_iter().enumerate() {
            let long_enough = if i == 0 { !needle.is_empty() } else { needle.len() >= MIN_SECRET_LEN };
            if long_enough && !self.needles.iter().any(|(n, _)| *n == needle) {
                self.needles.push((needle, label.to_string()));
            }
        }
        self.needles.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        self
    }

    /// [`Redactor::secret`] for a piece of a URL: only when 8 characters or longer (shorter
    /// ones, such as a path of `/`, would blank common text).
    fn piece(self, piece: &str, label: &str) -> Self {
        if piece.len() >= MIN_SECRET_LEN {
            self.secret(piece, label)
        } else {
            self
        }
    }

    /// A URL whose path, query and password are secret (an incoming webhook): the whole URL
    /// becomes `label`, and so does its path with the query, the query alone, the password,
    /// and each path segment or query value that looks like a key (12 characters or more, or
    /// 8 or more with a digit: `services` and `workflows` stay readable).
    pub fn url(mut self, url: &str, label: &str) -> Self {
        let url = url.trim();
        self = self.piece(url, label);
        let Some((_, rest)) = url.split_once("://") else { return self };
        let (authority, tail) = rest.find(['/', '?', '#']).map_or((rest, ""), |i| rest.split_at(i));
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            self = self.secret(userinfo, label);
            if let Some((_, password)) = userinfo.split_once(':') {
                self = self.secret(password, label);
            }
        }
        self = self.piece(tail, label);
        let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
        self = self.piece(path, label).piece(query, label);
        let values = query.split('&').filter_map(|kv| kv.split_once('=').map(|(_, v)| v));
        for piece in path.split('/').chain(values) {
            if piece.len() >= 12 || piece.chars().any(|c| c.is_ascii_digit()) {
                self = self.piece(piece, label);
            }
        }
        self
    }

    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (needle, label) in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), label);
            }
        }
        out
    }
}

/// The secret as servers and proxies echo it: raw; percent-encoded (every reserved byte, or
/// keeping `/`; upper- and lower-case hex; encoded twice); JSON-escaped (`\/`, Go's `\u0026`);
/// HTML-escaped (`&amp;`, numeric entities); base64 (standard and URL-safe alphabets, at each
/// of the three alignments the secret can have inside a longer encoded text).
pub fn encodings(secret: &str) -> Vec<String> {
    let bytes = secret.as_bytes();
    let per_byte = |f: &dyn Fn(u8) -> Option<String>| -> String {
        bytes.iter().map(|&b| f(b).unwrap_or_else(|| (b as char).to_string())).collect()
    };
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    let pct_upper = |keep: &'static [u8]| {
        move |b: u8| (!unreserved(b) && !keep.contains(&b) || !b.is_ascii()).then(|| format!("%{b:02X}"))
    };
    let pct_lower = |keep: &'static [u8]| {
        move |b: u8| (!unreserved(b) && !keep.contains(&b) || !b.is_ascii()).then(|| format!("%{b:02x}"))
    };
    let component = per_byte(&pct_upper(b""));
    let mut out = vec![
        secret.to_string(),
        component.clone(),
        per_byte(&pct_lower(b"")),
        per_byte(&pct_upper(b"/")),
        per_byte(&pct_lower(b"/")),
        component.replace('%', "%25"),
    ];
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json.trim_matches('"').to_string();
    out.push(json.replace('/', "\\/"));
    out.push(json.replace('&', "\\u0026").replace('<', "\\u003c").replace('>', "\\u003e"));
    out.push(json);
    out.push(secret.replace('&', "&amp;"));
    out.push(per_byte(&|b| (!b.is_ascii_alphanumeric()).then(|| format!("&#x{b:02x};"))));
    out.push(per_byte(&|b| (!b.is_ascii_alphanumeric()).then(|| format!("&#{b};"))));
    for shift in 0..3 {
        let standard = base64_inner(bytes, shift);
        out.push(standard.replace('+', "-").replace('/', "_"));
        out.push(standard);
    }
    out
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The base64 characters that depend only on `bytes` when they start `shift` bytes into a
/// 3-byte group: the characters that also cover a neighbouring byte are left out, so the
/// result is found inside the encoding of any text that holds the bytes at that alignment.
fn base64_inner(bytes: &[u8], shift: usize) -> String {
    let mut padded = vec![0u8; shift];
    padded.extend_from_slice(bytes);
    let bits = padded.len() * 8;
    let first = (shift * 8).div_ceil(6);
    let end = bits / 6;
    (first..end)
        .map(|i| {
            let bit = i * 6;
            let (byte, offset) = (bit / 8, bit % 8);
            let word = (u16::from(padded[byte]) << 8) | u16::from(padded.get(byte + 1).copied().unwrap_or(0));
            BASE64[usize::from((word >> (10 - offset)) & 0x3F)] as char
        })
        .collect()
}

#[cfg(test)]
mod tests;
