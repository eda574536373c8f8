//! RFC 3986 URI splitting and the normalisation DPoP `htu` comparison needs.

/// The parts of an absolute `http(s)` URI (RFC 3986 §3).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UriParts<'a> {
    pub(crate) scheme: &'a str,
    pub(crate) authority: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
}

/// Splits an absolute URI with an authority; fragment dropped. ASCII only.
pub(crate) fn split(uri: &str) -> Option<UriParts<'_>> {
    if !uri.is_ascii() || uri.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return None;
    }
    let (scheme, rest) = uri.split_once("://")?;
    if scheme.is_empty()
        || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return None;
    }
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return None;
    }
    Some(UriParts {
        scheme,
        authority,
        path,
        query,
    })
}

/// Normalises an `http`/`https` URI for comparison and drops query and fragment
/// (RFC 9449 §4.3 (9), RFC 3986 §6.2.2–6.2.3): scheme and host lower-cased, default port
/// removed, percent-encoding hex upper-cased and unreserved characters decoded, dot segments
/// removed, empty path made `/`. `None` for anything that is not such a URI.
pub(crate) fn normalize_htu(uri: &str) -> Option<String> {
    let parts = split(uri)?;
    let scheme = parts.scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => "80",
        "https" => "443",
        _ => return None,
    };
    if parts.authority.contains('@') {
        return None; // userinfo has no place in htu
    }
    let (host, port) = split_host_port(parts.authority)?;
    let host = normalize_percent(host)?.to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    let mut out = format!("{scheme}://{host}");
    if let Some(port) = port.filter(|p| !p.is_empty()) {
        if port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u16 = port.parse().ok()?;
        if n.to_string() != default_port {
            out.push(':');
            out.push_str(&n.to_string());
        }
    }
    let path = normalize_percent(parts.path)?;
    let path = remove_dot_segments(&path);
    out.push_str(if path.is_empty() { "/" } else { &path });
    Some(out)
}

fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let host = &authority[..inside.len() + 2];
        match after {
            "" => Some((host, None)),
            p => Some((host, Some(p.strip_prefix(':')?))),
        }
    } else {
        match authority.split_once(':') {
            // `h:8080:443`: a second colon outside brackets is not a host and a port.
            Some((_, p)) if p.contains(':') => None,
            Some((h, p)) => Some((h, Some(p))),
            None => Some((authority, None)),
        }
    }
}

/// Upper-cases percent-encoding hex digits and decodes unreserved characters (§6.2.2.1–2).
fn normalize_percent(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Exactly two hex digits: `from_str_radix` alone would read `%+1` as 0x01.
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
            let value = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            if value.is_ascii_alphanumeric() || b"-._~".contains(&value) {
                out.push(char::from(value));
            } else {
                out.push('%');
                out.push_str(&format!("{value:02X}"));
            }
            i += 3;
        } else {
            out.push(char::from(bytes[i]));
            i += 1;
        }
    }
    Some(out)
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut output: Vec<&str> = Vec::new();
    let mut input = path;
    while !input.is_empty() {
        if let Some(rest) = input
            .strip_prefix("../")
            .or_else(|| input.strip_prefix("./"))
        {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") || input == "/.." {
            input = if input == "/.." { "/" } else { &input[3..] };
            output.pop();
        } else if input == "." || input == ".." {
            input = "";
        } else {
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |i| i + start);
            output.push(&input[..end]);
            input = &input[end..];
        }
    }
    output.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        let n = |s| normalize_htu(s);
        assert_eq!(
            n("HTTPS://Server.Example.COM:443/a/../b/./c?x=1#f").unwrap(),
            "https://server.example.com/b/c"
        );
        assert_eq!(n("http://h:80").unwrap(), "http://h/");
        assert_eq!(
            n("http://h:8080/%7euser/%2f").unwrap(),
            "http://h:8080/~user/%2F"
        );
        assert_eq!(n("http://[::1]:3000/x").unwrap(), "http://[::1]:3000/x");
        assert_eq!(n("http://h:/x").unwrap(), "http://h/x");
        assert_ne!(n("http://h/x/").unwrap(), n("http://h/x").unwrap());
        assert!(n("ftp://h/").is_none());
        assert!(n("http://u@h/").is_none());
        assert!(n("http://h/%zz").is_none());
        assert!(n("http://h/é").is_none());
        assert!(n("http://h:99999/").is_none());
        assert!(n("/relative").is_none());
        assert!(n("http://h/%+1").is_none(), "%+1 is not a percent-encoding");
        assert!(n("http://h/%-1").is_none());
        assert!(n("http://h:8080:443/").is_none(), "two ports");
        assert!(n("http://[::1]:80:443/").is_none());
    }

    #[test]
    fn dot_segments_rfc3986_examples() {
        assert_eq!(remove_dot_segments("/a/b/c/./../../g"), "/a/g");
        assert_eq!(remove_dot_segments("mid/content=5/../6"), "mid/6");
        assert_eq!(remove_dot_segments("/../x"), "/x");
    }
}
