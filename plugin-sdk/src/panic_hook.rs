//! Panic messages reach the host through its log.
//!
//! A plugin built without WASI has no stderr, so std's default hook would print the message
//! nowhere and the host would see only a bare trap. This hook sends it as an `error` record
//! starting with `panicked at`, which the host attaches to the trap it reports. Every export
//! installs it on entry, since there is no start function to do it once.

/// Installs the hook, once per instance.
pub(crate) fn install() {
    #[cfg(target_arch = "wasm32")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| std::panic::set_hook(Box::new(report)));
    }
}

#[cfg(target_arch = "wasm32")]
fn report(info: &std::panic::PanicHookInfo<'_>) {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic payload that is not a string)");
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_default();
    crate::log(
        crate::Level::Error,
        &format!("panicked at {location}: {message}"),
    );
}
