//! The cfg string of `ngx.load_ffi("ffi_nodejs", cfg)`: `<module>[?],<export>[,<cfg>]`.

/// What one load asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct LoadSpec {
    /// A path (absolute, or relative to the worker's working directory) or a package name,
    /// resolved like `require()` from the working directory.
    pub module: String,
    /// A trailing `?`: evaluate the module afresh even if this worker loaded it before.
    pub fresh: bool,
    /// The module's export called as `export(cfg, tq)`; it returns the handler.
    pub export: String,
    /// Everything after the second comma, commas included; None without a second comma.
    pub cfg: Option<String>,
}

pub const FORM: &str = "\"<module path>[?],<export>[,<cfg>]\"";

pub fn parse(text: &str) -> Result<LoadSpec, String> {
    let (module, rest) = text
        .split_once(',')
        .ok_or_else(|| format!("cfg must be {FORM}, got \"{text}\" (no export name)"))?;
    let (export, cfg) = match rest.split_once(',') {
        Some((export, cfg)) => (export, Some(cfg.to_string())),
        None => (rest, None),
    };
    let module = module.trim();
    let export = export.trim();
    let (module, fresh) = match module.strip_suffix('?') {
        Some(m) => (m.trim_end(), true),
        None => (module, false),
    };
    if module.is_empty() {
        return Err(format!("cfg must be {FORM}: the module path is empty"));
    }
    if export.is_empty() {
        return Err(format!("cfg must be {FORM}: the export name is empty"));
    }
    if export.chars().any(char::is_whitespace) {
        return Err(format!("bad export name \"{export}\": no spaces allowed"));
    }
    Ok(LoadSpec {
        module: module.to_string(),
        fresh,
        export: export.to_string(),
        cfg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_export_and_cfg_with_commas() {
        let s = parse("/srv/app/echo.js,init,{\"a\": 1, \"b\": 2}").unwrap();
        assert_eq!(s.module, "/srv/app/echo.js");
        assert!(!s.fresh);
        assert_eq!(s.export, "init");
        assert_eq!(s.cfg.as_deref(), Some("{\"a\": 1, \"b\": 2}"));
    }

    #[test]
    fn cfg_is_optional_and_may_be_empty() {
        assert_eq!(parse("m.mjs,default").unwrap().cfg, None);
        assert_eq!(parse("m.mjs,default,").unwrap().cfg.as_deref(), Some(""));
    }

    #[test]
    fn question_mark_asks_for_a_fresh_module() {
        let s = parse(" ./app/h.js? , make ").unwrap();
        assert_eq!(
            (s.module.as_str(), s.fresh, s.export.as_str()),
            ("./app/h.js", true, "make")
        );
    }

    #[test]
    fn bad_forms_are_refused_with_the_expected_form() {
        for bad in [
            "",
            "echo.js",
            ",init",
            "echo.js,",
            "echo.js, ,x",
            "?,init",
            "a.js,in it",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(
                e.contains("<module path>") || e.contains("no spaces"),
                "{bad}: {e}"
            );
        }
    }
}
