//! PRelu as plain arithmetic that tract runs fast.
//!
//! tract-onnx expands PRelu into a comparison, a select and a multiply, and the comparison
//! and select are slow: on the face mesh they were 1.9 of its 6.3 ms and on the iris model
//! 2.7 of 6.2 (per-op profile, this machine). The same function without them: for slopes all
//! at most 1, `max(x, a·x)` (x ≥ a·x exactly when x ≥ 0); for slopes all at least 1,
//! `min(x, a·x)`; for a mix, `x + (a − 1)·min(x, 0)`.

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::expandable::{expand, Expansion};
use tract_onnx::tract_hir::tract_core::ops::math;

#[derive(Clone, Debug, Hash)]
struct MaxPrelu;

impl Expansion for MaxPrelu {
    fn name(&self) -> StaticName {
        "MaxPrelu".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(
        &self,
        name: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let x = inputs[0];
        let mut slope = inputs[1];
        let rank = model.outlet_fact(x)?.rank();
        while model.outlet_fact(slope)?.rank() < rank {
            let r = model.outlet_fact(slope)?.rank();
            slope = model.wire_node(format!("{name}.add-axis-{r}"), AxisOp::Add(0), &[slope])?[0];
        }
        let slopes: Option<Vec<f32>> = match &model.outlet_fact(slope)?.konst {
            Some(k) => Some(
                k.cast_to::<f32>()?
                    .to_plain_array_view::<f32>()?
                    .iter()
                    .copied()
                    .collect(),
            ),
            None => None,
        };
        let slopes = slopes.unwrap_or_default();
        let scaled = |model: &mut TypedModel| -> TractResult<OutletId> {
            Ok(model.wire_node(format!("{name}.mul"), math::mul(), &[x, slope])?[0])
        };
        if !slopes.is_empty() && slopes.iter().all(|&a| a <= 1.0) {
            let scaled = scaled(model)?;
            return model.wire_node(format!("{name}.max"), math::max(), &[x, scaled]);
        }
        if !slopes.is_empty() && slopes.iter().all(|&a| a >= 1.0) {
            let scaled = scaled(model)?;
            return model.wire_node(format!("{name}.min"), math::min(), &[x, scaled]);
        }
        // slopes on both sides of 1 (or not known): x + (slope − 1)·min(x, 0)
        let dt = model.outlet_fact(x)?.datum_type;
        let zero = tensor0(0.0)
            .cast_to_dt(dt)?
            .into_owned()
            .broadcast_into_rank(rank)?;
        let zero = model.add_const(format!("{name}.zero"), zero)?;
        let one = tensor0(1.0)
            .cast_to_dt(dt)?
            .into_owned()
            .broadcast_into_rank(rank)?;
        let one = model.add_const(format!("{name}.one"), one)?;
        let excess = model.wire_node(format!("{name}.excess"), math::sub(), &[slope, one])?[0];
        let negative = model.wire_node(format!("{name}.negative"), math::min(), &[x, zero])?[0];
        let bent = model.wire_node(format!("{name}.bent"), math::mul(), &[negative, excess])?[0];
        model.wire_node(format!("{name}.sum"), math::add(), &[x, bent])
    }
}

/// The ONNX front end with PRelu wired as above.
pub fn onnx() -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    onnx.op_register
        .insert("PRelu", |_, _| Ok((expand(MaxPrelu), vec![])));
    onnx
}
