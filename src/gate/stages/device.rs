//! Device: the camera the photo's EXIF names, and whether it is a registered school device
//! (whether that matters is `[gate] require_school_devices`, a rule for `decide`).

use crate::findings::Finding;
use crate::gate::{Context, Sheet};

pub fn run(ctx: &Context, sheet: &mut Sheet<'_>) {
    let Some(c) = &sheet.clean else { return };
    let d = &c.device;
    let registered = ctx
        .judge
        .devices
        .iter()
        .any(|reg| reg.matches(d.make.as_deref(), d.model.as_deref(), d.serial.as_deref()));
    sheet.findings.push(Finding::Device {
        device: d.clone(),
        registered,
    });
}
