//! The user a container runs as, decided the way the runtime decides it.
//!
//! Why not compare `User` with `"0"` and `"root"`: runc (`libcontainer/user`
//! `GetExecUser`) and containerd (`oci.WithUser`) parse numbers with Go's
//! `strconv.Atoi`, so `00`, `+0`, `-0` and `0000:65532` are UID 0, and they
//! resolve names through the image's *own* `/etc/passwd` and `/etc/group`,
//! so a user called `app` whose passwd line says UID 0 is root. Even the
//! passwd parser is runc's: a UID field that is not a number reads as 0.

/// What `User` resolves to.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct RunAs {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Why it cannot be resolved (the runtime would refuse to start). Both
    /// `uid` and `problem` are `None` for a name when /etc/passwd was not
    /// read (layers not scanned, or no such file).
    pub problem: Option<String>,
}

/// Go's `strconv.Atoi`: an optional sign, then decimal digits.
fn atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Atoi fails beyond 64 bits; every such value is out of range anyway.
    s.parse::<i64>().ok()
}

/// One `name:x:uid:gid:…` (or `name:x:gid:…`) line, as runc's `parseLine`
/// reads it: fields split on `:`, numbers through Atoi with errors read as 0.
fn fields(line: &str) -> Vec<&str> {
    line.split(':').collect()
}

fn number(f: &[&str], i: usize) -> i64 {
    f.get(i).and_then(|v| atoi(v)).unwrap_or(0)
}

/// runc's valid ID range.
fn in_range(id: i64) -> Option<u32> {
    (0..=i64::from(i32::MAX)).contains(&id).then_some(id as u32)
}

/// Resolves `spec` (`user[:group]`) against the image's passwd and group
/// files (`None` when absent or not read).
pub fn resolve(spec: &str, passwd: Option<&str>, group: Option<&str>) -> RunAs {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g.split(':').next().unwrap_or(g))),
        None => (spec, None),
    };
    let fail = |problem: String| RunAs { uid: None, gid: None, problem: Some(problem) };
    let lines = |text: Option<&str>| -> Vec<Vec<String>> {
        text.unwrap_or("")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| fields(l).into_iter().map(String::from).collect())
            .collect()
    };
    let users = lines(passwd);
    let uid_arg = atoi(user);
    let found = users.iter().find(|f| {
        let f: Vec<&str> = f.iter().map(String::as_str).collect();
        match (user.is_empty(), uid_arg) {
            (true, _) => number(&f, 2) == 0,
            (false, Some(uid)) => number(&f, 2) == uid,
            (false, None) => f.first() == Some(&user),
        }
    });
    let (mut uid, mut gid) = (0i64, 0i64);
    match found {
        Some(f) => {
            let f: Vec<&str> = f.iter().map(String::as_str).collect();
            uid = number(&f, 2);
            gid = number(&f, 3);
        }
        None if !user.is_empty() => match uid_arg {
            Some(n) => uid = n,
            // A name, and the layers were not read: unknown, not wrong.
            None if passwd.is_none() => return RunAs::default(),
            None => {
                return fail(format!("user `{user}` is not in the image's /etc/passwd: the runtime refuses to start"));
            }
        },
        None => {}
    }
    let Some(uid) = in_range(uid) else {
        return fail(format!("UID {uid} is outside the range the runtime accepts"));
    };
    if let Some(g) = grp.filter(|g| !g.is_empty()) {
        match atoi(g) {
            Some(n) => gid = n,
            None => {
                let groups = lines(group);
                match groups.iter().find(|f| f.first().map(String::as_str) == Some(g)) {
                    Some(f) => gid = f.get(2).and_then(|v| atoi(v)).unwrap_or(0),
                    None => {
                        return RunAs {
                            uid: Some(uid),
                            gid: None,
                            problem: Some(format!(
                                "group `{g}` is not in the image's /etc/group: the runtime refuses to start"
                            )),
                        };
                    }
                }
            }
        }
    }
    match in_range(gid) {
        Some(gid) => RunAs { uid: Some(uid), gid: Some(gid), problem: None },
        None => RunAs {
            uid: Some(uid),
            gid: None,
            problem: Some(format!("GID {gid} is outside the range the runtime accepts")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_atoi_reads_them() {
        for spec in ["0", "00", "+0", "-0", "0000:65532", "0:0000", ""] {
            assert_eq!(resolve(spec, None, None).uid, Some(0), "{spec}");
        }
        assert_eq!(resolve("65532:65532", None, None).uid, Some(65532));
        assert!(resolve("-1", None, None).problem.is_some(), "out of range");
        assert_eq!(resolve("app", None, None), RunAs::default(), "a name needs /etc/passwd: unknown");
    }

    #[test]
    fn names_through_the_images_own_files() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:0:0::/:/bin/false\nweb:x:1000:1000::/:\nodd:x:zero:5::/:\n";
        let group = "root:x:0:\nweb:x:1000:\n";
        assert_eq!(resolve("app", Some(passwd), Some(group)).uid, Some(0), "a name that maps to UID 0 is root");
        assert_eq!(resolve("odd", Some(passwd), Some(group)).uid, Some(0), "runc reads a bad UID field as 0");
        let web = resolve("web:web", Some(passwd), Some(group));
        assert_eq!((web.uid, web.gid, web.problem), (Some(1000), Some(1000), None));
        assert!(
            resolve("ghost", Some(passwd), Some(group)).problem.unwrap().contains("not in the image's /etc/passwd")
        );
        assert!(resolve("web:nogroup", Some(passwd), Some(group)).problem.is_some());
        assert_eq!(
            resolve("1000", Some(passwd), None).gid,
            Some(1000),
            "a numeric user takes its passwd entry's group"
        );
    }
}
