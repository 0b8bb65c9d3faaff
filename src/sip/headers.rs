//! Header names and the ordered, case-insensitive header list of a SIP message.
//!
//! RFC 3261 §7.3: header names are case-insensitive, several have compact one-letter forms
//! (§7.3.3), and a header whose grammar is a comma-separated list may appear as several lines or
//! one line with commas (§7.3.1). Names are normalised to their canonical spelling on parse so
//! the rest of the stack compares `&str`s; list headers are split on demand by [`Headers::values`].

/// Canonical spelling of a header name (expands compact forms, fixes case of known names).
pub fn canonical_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let known = match lower.as_str() {
        "v" | "via" => "Via",
        "f" | "from" => "From",
        "t" | "to" => "To",
        "i" | "call-id" => "Call-ID",
        "m" | "contact" => "Contact",
        "l" | "content-length" => "Content-Length",
        "c" | "content-type" => "Content-Type",
        "e" | "content-encoding" => "Content-Encoding",
        "s" | "subject" => "Subject",
        "k" | "supported" => "Supported",
        "o" | "event" => "Event",
        "r" | "refer-to" => "Refer-To",
        "b" | "referred-by" => "Referred-By",
        "x" | "session-expires" => "Session-Expires",
        "u" | "allow-events" => "Allow-Events",
        "cseq" => "CSeq",
        "max-forwards" => "Max-Forwards",
        "route" => "Route",
        "record-route" => "Record-Route",
        "www-authenticate" => "WWW-Authenticate",
        "authorization" => "Authorization",
        "proxy-authenticate" => "Proxy-Authenticate",
        "proxy-authorization" => "Proxy-Authorization",
        "allow" => "Allow",
        "accept" => "Accept",
        "require" => "Require",
        "user-agent" => "User-Agent",
        "server" => "Server",
        "expires" => "Expires",
        "reason" => "Reason",
        "min-expires" => "Min-Expires",
        "retry-after" => "Retry-After",
        _ => return name.to_owned(),
    };
    known.to_owned()
}

/// Headers whose values are comma-separated lists (RFC 3261 §7.3.1) and may be split.
/// Authentication headers and Date contain commas that are not separators.
fn is_list_header(canonical: &str) -> bool {
    matches!(
        canonical,
        "Via"
            | "Contact"
            | "Route"
            | "Record-Route"
            | "Allow"
            | "Supported"
            | "Require"
            | "Accept"
            | "Allow-Events"
            | "Content-Encoding"
    )
}

/// Splits a list header value on commas outside quotes and angle brackets.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth_angle = false;
    let mut in_quote = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if in_quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_quote = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_quote = true,
            '<' => depth_angle = true,
            '>' => depth_angle = false,
            ',' if !depth_angle => {
                out.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

/// One header line as parsed (name canonicalised, folding undone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Canonical name.
    pub name: String,
    /// Value with surrounding whitespace trimmed.
    pub value: String,
}

/// Ordered header list; order matters for Via and Route (RFC 3261 §7.3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

impl Headers {
    /// An empty list.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Appends a header (name canonicalised).
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push(Header {
            name: canonical_name(name),
            value: value.into(),
        });
    }

    /// Inserts a header before all others of any name (used for a new top Via).
    pub fn push_front(&mut self, name: &str, value: impl Into<String>) {
        self.0.insert(
            0,
            Header {
                name: canonical_name(name),
                value: value.into(),
            },
        );
    }

    /// Replaces every header of this name by one value.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let canon = canonical_name(name);
        let value = value.into();
        match self
            .0
            .iter()
            .position(|h| h.name.eq_ignore_ascii_case(&canon))
        {
            Some(pos) => {
                self.0[pos].value = value;
                let mut i = 0;
                self.0.retain(|h| {
                    let keep = i <= pos || !h.name.eq_ignore_ascii_case(&canon);
                    i += 1;
                    keep
                });
            }
            None => self.0.push(Header { name: canon, value }),
        }
    }

    /// Removes every header of this name.
    pub fn remove(&mut self, name: &str) {
        let canon = canonical_name(name);
        self.0.retain(|h| !h.name.eq_ignore_ascii_case(&canon));
    }

    /// The first line of this header, unsplit.
    pub fn get(&self, name: &str) -> Option<&str> {
        let canon = canonical_name(name);
        self.0
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(&canon))
            .map(|h| h.value.as_str())
    }

    /// Every value of this header in order, splitting comma lists for list headers.
    pub fn values(&self, name: &str) -> Vec<&str> {
        let canon = canonical_name(name);
        let list = is_list_header(&canon);
        self.0
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(&canon))
            .flat_map(|h| {
                if list {
                    split_list(&h.value)
                } else {
                    vec![h.value.as_str()]
                }
            })
            .collect()
    }

    /// All header lines in order.
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_case_insensitive_names() {
        for (given, canon) in [
            ("v", "Via"),
            ("VIA", "Via"),
            ("i", "Call-ID"),
            ("call-id", "Call-ID"),
            ("l", "Content-Length"),
            ("m", "Contact"),
            ("cSeQ", "CSeq"),
            ("X-Custom", "X-Custom"),
        ] {
            assert_eq!(canonical_name(given), canon, "{given}");
        }
        let mut h = Headers::new();
        h.push("f", "<sip:a@b>;tag=1");
        assert_eq!(h.get("FROM"), Some("<sip:a@b>;tag=1"));
    }

    #[test]
    fn list_headers_split_but_auth_does_not() {
        let mut h = Headers::new();
        h.push(
            "Via",
            "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2",
        );
        h.push("v", "SIP/2.0/UDP c;branch=z9hG4bK3");
        h.push("Contact", "\"Doe, J\" <sip:j@x;a=1,2>, <sip:k@y>");
        h.push("WWW-Authenticate", "Digest realm=\"r\", nonce=\"n\"");
        assert_eq!(h.values("Via").len(), 3);
        assert_eq!(
            h.values("Contact"),
            vec!["\"Doe, J\" <sip:j@x;a=1,2>", "<sip:k@y>"]
        );
        assert_eq!(h.values("WWW-Authenticate").len(), 1);
    }

    #[test]
    fn set_replaces_all_and_remove() {
        let mut h = Headers::new();
        h.push("Route", "<sip:a>");
        h.push("To", "<sip:t>");
        h.push("Route", "<sip:b>");
        h.set("route", "<sip:c>");
        assert_eq!(h.values("Route"), vec!["<sip:c>"]);
        assert_eq!(h.len(), 2);
        h.remove("ROUTE");
        assert_eq!(h.get("Route"), None);
        h.push_front("Via", "SIP/2.0/UDP x");
        assert_eq!(h.iter().next().map(|x| x.name.as_str()), Some("Via"));
    }
}
