//! Compiles the kiosk's screens (ui/*.slint) with the English translation bundled in, and with
//! element ids kept so the UI tests can find a button and tap it like a finger would.

fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations("ui/translations")
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        .with_debug_info(true);
    if let Err(e) = slint_build::compile_with_config("ui/kiosk.slint", config) {
        panic!("ui/kiosk.slint: {e}");
    }
}
