//! What `ngx.load_ffi("resty_ffi_python", cfg)` asks for, parsed from its cfg:
//!
//! ```text
//! [venv=<dir>;]<[dir/]module[?]>,<func>[,<cfg>]
//! ```
//!
//! - `dir/` (up to the last `/`) is put in front of `sys.path`; `module` may be dotted;
//!   a trailing `?` re-imports a module that is already imported (new code on a new load).
//! - `func` is called as `func(cfg, tq)`; everything after the second comma is its `cfg`
//!   (commas included, maybe empty); without a second comma `cfg` is 0 (NULL).
//! - Options come before the module, each ending with `;`. The only one is `venv=<dir>`:
//!   that virtual environment's site-packages are added to `sys.path`.
//!
//! `echo,init` and `ffi/echo?,init,{"a":1}` are the original lua-resty-ffi's forms.

/// One parsed load request.
#[derive(Debug, PartialEq, Eq)]
pub struct Spec {
    pub venv: Option<String>,
    pub dir: Option<String>,
    pub module: String,
    pub reload: bool,
    pub func: String,
    /// The text after the second comma, handed to `func` as a `char *`.
    pub cfg: Option<Vec<u8>>,
}

const FORM: &str = "expected [venv=<dir>;]<[dir/]module[?]>,<func>[,<cfg>]";

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c == '_' || c.is_alphabetic() => {}
        _ => return false,
    }
    chars.all(|c| c == '_' || c.is_alphanumeric())
}

fn text(field: &[u8], what: &str) -> Result<String, String> {
    String::from_utf8(field.to_vec()).map_err(|_| format!("bad cfg: {what} is not UTF-8"))
}

fn split_once(bytes: &[u8], sep: u8) -> (&[u8], Option<&[u8]>) {
    match bytes.iter().position(|&b| b == sep) {
        Some(i) => (&bytes[..i], Some(&bytes[i + 1..])),
        None => (bytes, None),
    }
}

/// Splits `venv=...;other=...;path` into the options and the module path.
fn parse_options(field: &str) -> Result<(Option<String>, &str), String> {
    let mut venv = None;
    let mut parts: Vec<&str> = field.split(';').collect();
    let path = parts.pop().unwrap_or_default();
    for option in parts {
        match option.split_once('=') {
            Some(("venv", dir)) if !dir.is_empty() => venv = Some(dir.to_string()),
            Some(("venv", _)) => return Err("bad cfg: venv= needs a directory".to_string()),
            _ => return Err(format!("bad cfg: unknown option {option:?} (the only option is venv=<dir>;)")),
        }
    }
    Ok((venv, path))
}

/// Parses the loader's cfg string (the bytes of the C string, without its NUL).
pub fn parse(cfg: &[u8]) -> Result<Spec, String> {
    let (module_field, rest) = split_once(cfg, b',');
    let Some(rest) = rest else {
        return Err(format!("bad cfg {:?}: no function name; {FORM}", String::from_utf8_lossy(cfg)));
    };
    let (func, user_cfg) = split_once(rest, b',');

    let module_field = text(module_field, "the module part")?;
    let (venv, path) = parse_options(&module_field)?;
    let (dir, module) = match path.rfind('/') {
        Some(0) => (Some("/".to_string()), &path[1..]),
        Some(i) => (Some(path[..i].to_string()), &path[i + 1..]),
        None => (None, path),
    };
    let (module, reload) = match module.strip_suffix('?') {
        Some(m) => (m, true),
        None => (module, false),
    };
    if let Some(stem) = module.strip_suffix(".py") {
        return Err(format!(
            "bad cfg: {module:?} is a file name, and Python takes a module name: {stem:?} \
             (its directory before it, as in /srv/app/{stem},init); {FORM}"
        ));
    }
    if module.is_empty() || !module.split('.').all(is_identifier) {
        return Err(format!("bad cfg: {module:?} is not a Python module name; {FORM}"));
    }

    let func = text(func, "the function name")?;
    if !is_identifier(&func) {
        return Err(format!("bad cfg: {func:?} is not a Python function name; {FORM}"));
    }

    Ok(Spec {
        venv,
        dir,
        module: module.to_string(),
        reload,
        func,
        cfg: user_cfg.map(<[u8]>::to_vec),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> Spec {
        parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn original_forms() {
        let s = spec("echo,init");
        assert_eq!((s.module.as_str(), s.func.as_str(), s.cfg, s.dir, s.reload), ("echo", "init", None, None, false));

        let s = spec("ffi.echo?,init,{\"a\":1,\"b\":2}");
        assert_eq!(s.module, "ffi.echo");
        assert!(s.reload);
        assert_eq!(s.cfg.as_deref(), Some(&b"{\"a\":1,\"b\":2}"[..]));

        let s = spec("/srv/app/py/handler,start,");
        assert_eq!(s.dir.as_deref(), Some("/srv/app/py"));
        assert_eq!(s.module, "handler");
        assert_eq!(s.cfg.as_deref(), Some(&b""[..]));
    }

    #[test]
    fn root_and_relative_dirs() {
        assert_eq!(spec("/m,f").dir.as_deref(), Some("/"));
        assert_eq!(spec("lib/m?,f").dir.as_deref(), Some("lib"));
    }

    #[test]
    fn venv_option() {
        let s = spec("venv=/opt/venv;/srv/app/m?,f,x");
        assert_eq!(s.venv.as_deref(), Some("/opt/venv"));
        assert_eq!(s.dir.as_deref(), Some("/srv/app"));
        assert_eq!((s.module.as_str(), s.reload), ("m", true));
        assert_eq!(s.cfg.as_deref(), Some(&b"x"[..]));
    }

    #[test]
    fn a_file_name_gets_a_hint() {
        let e = parse(b"/srv/app/handlers.py,init").err().unwrap();
        assert!(e.contains("is a file name") && e.contains("\"handlers\""), "{e}");
    }

    #[test]
    fn bad_forms_are_clear_errors() {
        for (cfg, want) in [
            ("echo", "no function name"),
            ("", "no function name"),
            (",init", "not a Python module name"),
            ("a-b,init", "not a Python module name"),
            ("dir/,init", "not a Python module name"),
            ("echo,", "not a Python function name"),
            ("echo,in it", "not a Python function name"),
            ("foo=1;echo,init", "unknown option"),
            ("venv=;echo,init", "venv= needs a directory"),
        ] {
            let e = parse(cfg.as_bytes()).err().unwrap_or_else(|| panic!("{cfg} parsed"));
            assert!(e.contains(want), "{cfg}: {e}");
        }
    }
}
