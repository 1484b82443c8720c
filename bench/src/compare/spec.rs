//! The command line of a comparison: `--target` specs and the `--sweep` list.
//!
//! A target is comma-separated `key=value` fields:
//! `name=shardcast,whip=http://h:8080/whip/{stream},whep=http://h:8080/whep/{stream},token=T,pid=1,pid=2,
//! metrics=http://h:8080/metrics`.
//! `whip` and `whep` are required, `pid` may repeat, `name` defaults to the WHIP URL's
//! host:port. Values run to the next comma, so they cannot hold one.

use super::Target;

const KEYS: &str = "name, whip, whep, token, pid or metrics";

/// A target from its `--target` spec.
pub fn parse_target(spec: &str) -> Result<Target, String> {
    let mut name = None;
    let mut whip_url = None;
    let mut whep_url = None;
    let mut token = None;
    let mut metrics_url = None;
    let mut server_pids = Vec::new();
    for field in spec.split(',').map(str::trim) {
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| format!("{field:?} is not key=value (keys: {KEYS})"))?;
        if value.is_empty() {
            return Err(format!("{key} is empty"));
        }
        match key {
            "name" => set_once(&mut name, key, value)?,
            "whip" => set_once(&mut whip_url, key, value)?,
            "whep" => set_once(&mut whep_url, key, value)?,
            "token" => set_once(&mut token, key, value)?,
            "pid" => server_pids.push(parse_pid(value)?),
            "metrics" => set_once(&mut metrics_url, key, value)?,
            _ => return Err(format!("unknown key {key:?} (keys: {KEYS})")),
        }
    }
    let whip_url = whip_url.ok_or("no whip=URL")?;
    let whep_url = whep_url.ok_or("no whep=URL")?;
    Ok(Target {
        name: name.unwrap_or_else(|| default_name(&whip_url)),
        whip_url,
        whep_url,
        token,
        server_pids,
        metrics_url,
    })
}

/// The host and port of `url` (what follows `scheme://` up to the path), or the whole URL
/// when it has no such part.
pub fn default_name(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    if authority.is_empty() {
        url.to_owned()
    } else {
        authority.to_owned()
    }
}

/// Names tell the rows apart, so two targets cannot share one.
pub fn check_unique_names(targets: &[Target]) -> Result<(), String> {
    for (index, target) in targets.iter().enumerate() {
        if targets[..index].iter().any(|t| t.name == target.name) {
            return Err(format!(
                "two targets are named {:?}; tell them apart with name=",
                target.name
            ));
        }
    }
    Ok(())
}

/// The viewer counts of `--sweep`, like `100,250,500,1000`: each above zero, none twice.
pub fn parse_sweep(text: &str) -> Result<Vec<usize>, String> {
    let mut counts = Vec::new();
    for part in text.split(',').map(str::trim) {
        let count = part
            .parse::<usize>()
            .ok()
            .filter(|&count| count > 0)
            .ok_or_else(|| format!("{part:?} is not a viewer count above zero"))?;
        if counts.contains(&count) {
            return Err(format!("{count} viewers appears twice"));
        }
        counts.push(count);
    }
    Ok(counts)
}

fn set_once(slot: &mut Option<String>, key: &str, value: &str) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("{key} is given twice"));
    }
    *slot = Some(value.to_owned());
    Ok(())
}

fn parse_pid(value: &str) -> Result<u32, String> {
    value
        .parse::<u32>()
        .ok()
        .filter(|&pid| pid > 0)
        .ok_or_else(|| format!("pid {value:?} is not a process id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_target_spec() {
        let target = parse_target(
            "name=shardcast, whip=http://h:8080/whip/{stream},whep=http://h:8080/whep?s=a=b,\
             token=secret,pid=12,pid=13,metrics=http://h:8080/metrics",
        )
        .unwrap();
        assert_eq!(
            target,
            Target {
                name: "shardcast".to_owned(),
                whip_url: "http://h:8080/whip/{stream}".to_owned(),
                whep_url: "http://h:8080/whep?s=a=b".to_owned(),
                token: Some("secret".to_owned()),
                server_pids: vec![12, 13],
                metrics_url: Some("http://h:8080/metrics".to_owned()),
            }
        );
    }

    #[test]
    fn the_name_defaults_to_the_whip_host_and_port() {
        let target = parse_target("whep=http://b:2/whep,whip=http://a:1/whip").unwrap();
        assert_eq!(target.name, "a:1");
        assert_eq!((target.token, target.server_pids), (None, vec![]));
        assert_eq!(target.metrics_url, None);
        assert_eq!(default_name("https://[::1]:8443/x?y"), "[::1]:8443");
        assert_eq!(default_name("http://host"), "host");
        assert_eq!(default_name("nonsense"), "nonsense");
    }

    #[test]
    fn bad_target_specs_say_what_is_wrong() {
        let cases = [
            ("whip=http://a/whip", "no whep"),
            ("whep=http://a/whep", "no whip"),
            ("whip=http://a,whep=http://a,pid=abc", "not a process id"),
            ("whip=http://a,whep=http://a,pid=0", "not a process id"),
            ("whip=http://a,whep=http://a,pid=-1", "not a process id"),
            ("whip=http://a,whep=http://a,port=1", "unknown key"),
            ("whip=http://a,whep=http://a,name", "not key=value"),
            ("whip=http://a,whep=http://a,name=", "name is empty"),
            (
                "whip=http://a,whep=http://a,whip=http://b",
                "whip is given twice",
            ),
            ("", "not key=value"),
        ];
        for (spec, expected) in cases {
            let error = parse_target(spec).unwrap_err();
            assert!(error.contains(expected), "{spec:?}: {error}");
        }
    }

    #[test]
    fn target_names_must_differ() {
        let target = |spec: &str| parse_target(spec).unwrap();
        let a = target("whip=http://h:1/a,whep=http://h:1/b");
        let b = target("whip=http://h:2/a,whep=http://h:2/b");
        let same_host = target("whip=http://h:1/c,whep=http://h:1/d");
        assert!(check_unique_names(&[a.clone(), b.clone()]).is_ok());
        let error = check_unique_names(&[a.clone(), b, same_host]).unwrap_err();
        assert!(
            error.contains("\"h:1\"") && error.contains("name="),
            "{error}"
        );
        let renamed = target("name=other,whip=http://h:1/c,whep=http://h:1/d");
        assert!(check_unique_names(&[a, renamed]).is_ok());
    }

    #[test]
    fn sweeps() {
        assert_eq!(parse_sweep("100,250"), Ok(vec![100, 250]));
        assert_eq!(parse_sweep("1000, 100"), Ok(vec![1000, 100]));
        assert_eq!(parse_sweep("7"), Ok(vec![7]));
        for bad in [
            "", "100,", ",100", "0", "100,0", "ten", "1.5", "-5", "100,100",
        ] {
            assert!(parse_sweep(bad).is_err(), "{bad:?}");
        }
        assert!(parse_sweep("100,100").unwrap_err().contains("twice"));
    }
}
