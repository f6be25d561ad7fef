//! The Debian mirror a chroot is built from: the one the host's own apt uses for its own
//! release, read from /etc/apt/sources.list and sources.list.d (one-line `.list` files and
//! deb822 `.sources` files alike), so that a machine behind its own mirror builds from it.

use std::path::Path;

/// One `deb` source: its URI and suites.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub uri: String,
    pub suites: Vec<String>,
}

/// `deb [options] URI SUITE COMPONENT…` lines (not `deb-src`, not comments).
pub fn one_line(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line.strip_prefix("deb ") else {
            continue;
        };
        let rest = rest.trim_start();
        // Options in brackets come before the URI.
        let rest = match rest.strip_prefix('[') {
            Some(r) => r.split_once(']').map(|(_, after)| after).unwrap_or(""),
            None => rest,
        };
        let mut words = rest.split_whitespace();
        if let (Some(uri), Some(suite)) = (words.next(), words.next()) {
            out.push(Source {
                uri: uri.to_string(),
                suites: vec![suite.to_string()],
            });
        }
    }
    out
}

/// deb822 paragraphs with `Types: deb`, `URIs:` and `Suites:` (`Enabled: no` skipped).
pub fn deb822(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let field = |name: &str| {
            para.lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_string())
                })
        };
        let types = field("Types").unwrap_or_default();
        if !types.split_whitespace().any(|t| t == "deb")
            || field("Enabled").is_some_and(|e| e.eq_ignore_ascii_case("no"))
        {
            continue;
        }
        let suites: Vec<String> = field("Suites")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        for uri in field("URIs").unwrap_or_default().split_whitespace() {
            out.push(Source {
                uri: uri.to_string(),
                suites: suites.clone(),
            });
        }
    }
    out
}

/// Every `deb` source apt reads under `etc_apt` (apt reads only `*.list` and `*.sources`).
pub fn sources(etc_apt: &Path) -> Vec<Source> {
    let mut out =
        one_line(&std::fs::read_to_string(etc_apt.join("sources.list")).unwrap_or_default());
    let mut files: Vec<_> = std::fs::read_dir(etc_apt.join("sources.list.d"))
        .map(|e| e.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        match f.extension().and_then(|e| e.to_str()) {
            Some("list") => out.extend(one_line(&text)),
            Some("sources") => out.extend(deb822(&text)),
            _ => {}
        }
    }
    out
}

/// The mirror serving the host's own release (`VERSION_CODENAME` in os-release): a source
/// listing that suite exactly, so security and third-party repositories are never chosen.
pub fn pick(sources: &[Source], codename: &str) -> Option<String> {
    sources
        .iter()
        .find(|s| s.suites.iter().any(|x| x == codename))
        .map(|s| s.uri.trim_end_matches('/').to_string())
}

/// The host's Debian mirror, or why there is none (a one-line error naming the fix).
pub fn host_mirror() -> Result<String, String> {
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let codename = release
        .lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default();
    if codename.is_empty() {
        return Err("no VERSION_CODENAME in /etc/os-release: chroots are built from a Debian host's apt mirror".into());
    }
    pick(&sources(Path::new("/etc/apt")), &codename).ok_or_else(|| {
        format!("no apt source for '{codename}' in /etc/apt/sources.list(.d): add the host's Debian mirror there")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_and_one_line_sources_give_the_release_mirror() {
        // As on a Debian 12 container: deb822 with a snapshot comment, security beside it.
        let d = "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n";
        let mut all = deb822(d);
        assert_eq!(all.len(), 2);
        all.extend(one_line(
            "deb-src http://src.example/debian bookworm main\n# deb http://old/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] https://packages.cloud.google.com/apt cloud-sdk-bookworm main\ndeb http://mirror.example/debian/ bookworm main\n",
        ));
        assert_eq!(
            pick(&all, "bookworm").as_deref(),
            Some("http://deb.debian.org/debian")
        );
        assert_eq!(
            pick(&all[2..], "bookworm").as_deref(),
            Some("http://mirror.example/debian")
        );
        assert_eq!(pick(&all, "trixie"), None);
    }

    #[test]
    fn disabled_paragraphs_are_skipped() {
        let d = "Types: deb\nEnabled: no\nURIs: http://a/debian\nSuites: bookworm\n";
        assert!(deb822(d).is_empty());
    }
}
