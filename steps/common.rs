//! Steps shared by every area.

use cucumber::given;

use crate::steps::world::{LiaisonWorld, StepResult};

#[given(expr = "the SUT plays the role {string}")]
async fn sut_plays(w: &mut LiaisonWorld, role: String) -> StepResult {
    if w.ctx.profile.has_role(&role) {
        Ok(())
    } else {
        Err(w.fail(
            format!("a SUT that declares the role `{role}`"),
            format!("a profile with roles [{}]", w.ctx.profile.roles.join(", ")),
        ))
    }
}
