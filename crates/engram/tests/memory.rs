//! The LSTM agent remembers: on POPGym's RepeatPreviousEasy (repeat the card seen 4 steps ago)
//! a short seeded A3C-LSTM run clearly beats both chance and the same agent without memory.

use engram::train::train;

mod common;
use common::{tuned, with};

fn repeat_previous(policy: &str) -> f64 {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = with(
        tuned("a3c", "popgym-RepeatPreviousEasy-v0"),
        &[
            &format!("policy={policy}"),
            "workers=1",
            "seed=0",
            "total_steps=150000",
            "eval_interval=0",
        ],
    );
    if policy == "mlp" {
        c.net.encoder_layers = vec![64, 64];
    }
    let summary = train(c, Some(tmp.path()), true).unwrap();
    summary.final_train_mean_return.unwrap()
}

#[test]
fn lstm_beats_chance_and_the_memoryless_agent_on_repeat_previous() {
    // A uniformly random policy scores -0.50 (std of a 100-episode mean: 0.013).
    let lstm = repeat_previous("lstm");
    let mlp = repeat_previous("mlp");
    assert!(
        lstm > -0.2,
        "LSTM 100-episode mean {lstm:.3} is not clearly above chance (-0.50)"
    );
    assert!(
        mlp < -0.4,
        "the memoryless agent should stay near chance, got {mlp:.3}"
    );
    assert!(lstm - mlp > 0.3, "LSTM {lstm:.3} vs MLP {mlp:.3}");
}
