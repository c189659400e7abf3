//! Wires the window's callbacks to the controller.

use super::*;
use crate::kiosk::Kiosk;
use crate::kiosk::KioskWindow;
use crate::session::Event;
use slint::SharedString;

pub fn connect(ui: &KioskWindow, app: std::rc::Rc<std::cell::RefCell<App>>) {
    let kiosk = ui.global::<Kiosk>();
    macro_rules! on {
        ($setter:ident, |$a:ident $(, $arg:ident : $t:ty)*| $body:expr) => {{
            let app = app.clone();
            kiosk.$setter(move |$($arg: $t),*| {
                if let Ok(mut $a) = app.try_borrow_mut() {
                    $a.touched();
                    $body;
                }
            });
        }};
    }
    on!(on_start, |a| a.dispatch(Event::Start));
    on!(on_staff_entry, |a| {
        a.pin.clear();
        a.dispatch(Event::StaffEntry)
    });
    on!(on_pin_key, |a, k: SharedString| a.key(&k));
    on!(on_pin_back, |a| a.backspace());
    on!(on_staff_select, |a, i: i32| a
        .select_profile(i.max(0) as usize));
    on!(on_staff_open, |a| a.staff_open());
    on!(on_staff_close, |a| a.dispatch(Event::StaffClose));
    on!(on_staff_end_collection, |a| a.staff_end_collection());
    on!(on_staff_import, |a| a.staff_import());
    on!(on_staff_import_file, |a, i: i32| a
        .staff_import_file(i.max(0) as usize));
    on!(on_staff_audit, |a| a.dispatch(Event::StaffAudit));
    on!(on_staff_change_pin, |a| a.staff_change_pin());
    on!(on_new_pin_ok, |a| a.new_pin_ok());
    on!(on_staff_reprint, |a| a.staff_reprint());
    on!(on_staff_batch, |a| a.staff_batch());
    on!(on_pick_batch, |a, i: i32| a.pick_batch(i.max(0) as usize));
    on!(on_batch_ok, |a| a.batch_ok());
    on!(on_reprint, |a, i: i32| a.reprint(i.max(0) as usize));
    on!(on_staff_sync, |a| a.sync_roster());
    on!(on_key, |a, k: SharedString| a.key(&k));
    on!(on_backspace, |a| a.backspace());
    on!(on_select_field, |a, i: i32| a
        .select_field(i.max(0) as usize));
    on!(on_submit_keypad, |a| a.submit_keypad());
    on!(on_next, |a| a.dispatch(Event::Continue));
    on!(on_back, |a| a.dispatch(Event::Back));
    on!(on_toggle_consent, |a| a.dispatch(Event::ConsentToggled));
    on!(on_capture, |a| a.shutter());
    on!(on_retake, |a| a.dispatch(Event::Retake));
    on!(on_withdraw, |a| a.dispatch(Event::Withdraw));
    on!(on_help, |a| a.dispatch(Event::Help));
    on!(on_close_help, |a| a.dispatch(Event::CloseHelp));
    on!(on_end_session, |a| a.dispatch(Event::End));
    on!(on_toggle_language, |a| a.toggle_language());
    on!(on_demo_card, |a| a.present_demo_card());
    on!(on_demo_code, |a| a.show_demo_code());
    on!(on_voice_next, |a| a.voice_next());
}
