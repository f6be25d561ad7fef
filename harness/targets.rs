//! What each capability check looks for in one workload, read from the workload's own header
//! lines (`# profbench: calls=pattern_recursion:242785`, ...; workloads/README.md lists them).
//! The rules in this folder know no workload: a new workload gets the checks its header asks
//! for, and an axis whose target the header does not name is not applicable there.

use serde::{Deserialize, Serialize};

/// A function and how many times the workload calls it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCount {
    pub function: String,
    pub count: u64,
}

/// A source line of one function, found by its text (line numbers move when a file is edited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLine {
    pub function: String,
    pub text: String,
}

/// A library whose frames must be seen below the functions that call it, and the library
/// functions those callers call (call records carry no stacks, so only these count there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibraryUse {
    /// As imported: `json`, `numpy`, `pandas`.
    pub library: String,
    /// Bare names of the library functions called: `dumps`, `dot`, `read_csv`.
    pub functions: Vec<String>,
    /// The workload's functions the library is called from.
    pub callers: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    /// Axis 1, `calls=FUNCTION:COUNT`: a recursive function and its exact call count.
    #[serde(default)]
    pub calls: Option<CallCount>,
    /// Axis 2, `sleep=FUNCTION`: a function that waits (its phase's wall time is the wait).
    #[serde(default)]
    pub sleep: Option<String>,
    /// Axis 3, `library=CALLER[,CALLER]:LIB.FUNCTION[,LIB.FUNCTION]` (repeatable).
    #[serde(default)]
    pub libraries: Vec<LibraryUse>,
    /// Axis 4, `heavy-line=FUNCTION:TEXT`: the line that should hold the function's time.
    #[serde(default)]
    pub heavy_line: Option<SourceLine>,
    /// Axis 4, `light-line=FUNCTION:TEXT`: a line beside it that should hold almost none.
    #[serde(default)]
    pub light_line: Option<SourceLine>,
    /// Axis 5, `memory=FUNCTION`: the function whose phase reaches the memory peak.
    #[serde(default)]
    pub memory: Option<String>,
    /// Axes 6–10, `remote=F[,F]`: functions that run in worker processes (Ray tasks).
    #[serde(default)]
    pub remote: Vec<String>,
    /// Axis 10, `heavy-remote=FUNCTION:COUNT`: a remote function and how many tasks run it.
    #[serde(default)]
    pub heavy_remote: Option<CallCount>,
}

/// A header line that names a target but cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("header line `# profbench: {line}`: {why} (fix: {fix})")]
pub struct BadTarget {
    pub line: String,
    pub why: &'static str,
    pub fix: &'static str,
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

fn call_count(line: &str, value: &str) -> Result<CallCount, BadTarget> {
    let bad = |why| BadTarget {
        line: line.to_string(),
        why,
        fix: "write FUNCTION:COUNT, e.g. calls=fib:177",
    };
    let (function, count) = value.split_once(':').ok_or_else(|| bad("no `:`"))?;
    let count = count
        .trim()
        .parse()
        .map_err(|_| bad("the count is not a whole number"))?;
    let function = function.trim();
    if function.is_empty() {
        return Err(bad("no function name"));
    }
    Ok(CallCount {
        function: function.to_string(),
        count,
    })
}

fn source_line(line: &str, value: &str) -> Result<SourceLine, BadTarget> {
    let bad = |why| BadTarget {
        line: line.to_string(),
        why,
        fix: "write FUNCTION:TEXT OF THE LINE, e.g. heavy-line=work:total += f(x)",
    };
    let (function, text) = value.split_once(':').ok_or_else(|| bad("no `:`"))?;
    let (function, text) = (function.trim(), text.trim());
    if function.is_empty() || text.is_empty() {
        return Err(bad("the function or the line text is empty"));
    }
    Ok(SourceLine {
        function: function.to_string(),
        text: text.to_string(),
    })
}

fn library_use(line: &str, value: &str) -> Result<Vec<LibraryUse>, BadTarget> {
    let bad = |why| BadTarget {
        line: line.to_string(),
        why,
        fix: "write CALLER:LIBRARY.FUNCTION, e.g. library=load:json.loads,numpy.dot",
    };
    let (callers, called) = value.split_once(':').ok_or_else(|| bad("no `:`"))?;
    let callers = list(callers);
    if callers.is_empty() {
        return Err(bad("no calling function"));
    }
    let mut uses: Vec<LibraryUse> = Vec::new();
    for item in list(called) {
        let (library, function) = match (item.split_once('.'), item.rsplit_once('.')) {
            (Some((lib, _)), Some((_, f))) => (lib.to_string(), f.to_string()),
            _ => return Err(bad("a called function is not written LIBRARY.FUNCTION")),
        };
        match uses.iter_mut().find(|u| u.library == library) {
            Some(u) => u.functions.push(function),
            None => uses.push(LibraryUse {
                library,
                functions: vec![function],
                callers: callers.clone(),
            }),
        }
    }
    if uses.is_empty() {
        return Err(bad("no library function named"));
    }
    Ok(uses)
}

impl Targets {
    /// Reads the targets from the workload's header lines (its first 40 lines); lines that
    /// name no target are left to the workload reader.
    pub fn from_header(text: &str) -> Result<Targets, BadTarget> {
        let mut t = Targets::default();
        for line in text.lines().take(40) {
            let Some(rest) = line.trim().strip_prefix("# profbench:") else {
                continue;
            };
            let rest = rest.trim();
            let Some((key, value)) = rest.split_once('=') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "calls" => t.calls = Some(call_count(rest, value)?),
                "sleep" => t.sleep = Some(value.to_string()),
                "library" => t.libraries.extend(library_use(rest, value)?),
                "heavy-line" => t.heavy_line = Some(source_line(rest, value)?),
                "light-line" => t.light_line = Some(source_line(rest, value)?),
                "memory" => t.memory = Some(value.to_string()),
                "remote" => t.remote = list(value),
                "heavy-remote" => t.heavy_remote = Some(call_count(rest, value)?),
                _ => {}
            }
        }
        Ok(t)
    }

    /// The libraries of axis 3, in header order, each once.
    pub fn library_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for u in &self.libraries {
            if !names.contains(&u.library.as_str()) {
                names.push(&u.library);
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_is_read_from_the_header() {
        let text = "\"\"\"doc\"\"\"\n# profbench: phases=a,b\n# profbench: calls=fib:177\n\
            # profbench: sleep=wait\n# profbench: library=load,parse:json.loads,numpy.random.rand\n\
            # profbench: library=read:pandas.read_csv\n# profbench: heavy-line=work:x = sum(range(10**7))\n\
            # profbench: light-line=work:a = 1\n# profbench: memory=grow\n\
            # profbench: remote=task_a, task_b\n# profbench: heavy-remote=task_a:24\n";
        let t = Targets::from_header(text).unwrap();
        assert_eq!(
            t.calls,
            Some(CallCount {
                function: "fib".into(),
                count: 177
            })
        );
        assert_eq!(t.sleep.as_deref(), Some("wait"));
        assert_eq!(t.library_names(), ["json", "numpy", "pandas"]);
        assert_eq!(t.libraries[1].functions, ["rand"]);
        assert_eq!(t.libraries[0].callers, ["load", "parse"]);
        assert_eq!(t.heavy_line.as_ref().unwrap().text, "x = sum(range(10**7))");
        assert_eq!(t.light_line.as_ref().unwrap().text, "a = 1");
        assert_eq!(t.memory.as_deref(), Some("grow"));
        assert_eq!(t.remote, ["task_a", "task_b"]);
        assert_eq!(t.heavy_remote.as_ref().unwrap().count, 24);
    }

    #[test]
    fn a_workload_without_targets_has_none() {
        let t = Targets::from_header("# profbench: phases=a\nimport os\n").unwrap();
        assert_eq!(t, Targets::default());
    }

    #[test]
    fn a_malformed_target_names_the_line_and_the_fix() {
        let err = Targets::from_header("# profbench: calls=fib\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "header line `# profbench: calls=fib`: no `:` (fix: write FUNCTION:COUNT, e.g. calls=fib:177)"
        );
        let err = Targets::from_header("# profbench: library=main:json\n").unwrap_err();
        assert!(err.to_string().contains("LIBRARY.FUNCTION"), "{err}");
    }
}
