//! Asterix: move in four directions; enemies and gold spawn from the sides; +1 per gold
//! picked up, the episode ends on touching an enemy; spawn rate and speed ramp up
//! (`minatar/environments/asterix.py`).

use super::{set_cell, Game, MinAtarRng, DOWN, LEFT, RIGHT, UP};

const RAMP_INTERVAL: i64 = 100;
const INIT_SPAWN_SPEED: i64 = 10;
const INIT_MOVE_INTERVAL: i64 = 5;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Entity {
    x: i32,
    y: i32,
    /// Moving right (spawned on the left).
    lr: bool,
    gold: bool,
}

#[derive(Clone, Debug)]
pub struct Asterix {
    ramping: bool,
    player_x: i32,
    player_y: i32,
    entities: [Option<Entity>; 8],
    spawn_speed: i64,
    spawn_timer: i64,
    move_speed: i64,
    move_timer: i64,
    ramp_timer: i64,
    ramp_index: i64,
    terminal: bool,
}

impl Asterix {
    fn spawn_entity(&mut self, rng: &mut MinAtarRng) {
        let lr = rng.rand() < 1.0 / 2.0;
        let gold = rng.rand() < 1.0 / 3.0;
        let x = if lr { 0 } else { 9 };
        let mut free = [0usize; 8];
        let mut n = 0;
        for (i, e) in self.entities.iter().enumerate() {
            if e.is_none() {
                free[n] = i;
                n += 1;
            }
        }
        if n == 0 {
            return;
        }
        let slot = free[rng.randint(0, n as i64, false) as usize];
        self.entities[slot] = Some(Entity {
            x,
            y: slot as i32 + 1,
            lr,
            gold,
        });
    }
}

impl Game for Asterix {
    const NAME: &'static str = "Asterix";
    const CHANNELS: &'static [&'static str] = &["player", "enemy", "trail", "gold"];
    const MINIMAL_ACTIONS: &'static [u8] = &[0, 1, 2, 3, 4];
    const DESCRIPTION: &'static str = "collect gold and dodge enemies that cross the screen";

    fn new(ramping: bool) -> Self {
        Asterix {
            ramping,
            player_x: 5,
            player_y: 5,
            entities: [None; 8],
            spawn_speed: INIT_SPAWN_SPEED,
            spawn_timer: INIT_SPAWN_SPEED,
            move_speed: INIT_MOVE_INTERVAL,
            move_timer: INIT_MOVE_INTERVAL,
            ramp_timer: RAMP_INTERVAL,
            ramp_index: 0,
            terminal: false,
        }
    }

    fn reset(&mut self, _rng: &mut MinAtarRng) {
        *self = Asterix::new(self.ramping);
    }

    fn act(&mut self, action: u8, rng: &mut MinAtarRng) -> (i64, bool) {
        let mut r = 0;
        if self.terminal {
            return (r, true);
        }
        if self.spawn_timer == 0 {
            self.spawn_entity(rng);
            self.spawn_timer = self.spawn_speed;
        }
        match action {
            LEFT => self.player_x = (self.player_x - 1).max(0),
            RIGHT => self.player_x = (self.player_x + 1).min(9),
            UP => self.player_y = (self.player_y - 1).max(1),
            DOWN => self.player_y = (self.player_y + 1).min(8),
            _ => {}
        }
        let (px, py) = (self.player_x, self.player_y);
        for slot in self.entities.iter_mut() {
            if let Some(e) = *slot {
                if e.x == px && e.y == py {
                    if e.gold {
                        *slot = None;
                        r += 1;
                    } else {
                        self.terminal = true;
                    }
                }
            }
        }
        if self.move_timer == 0 {
            self.move_timer = self.move_speed;
            for slot in self.entities.iter_mut() {
                if let Some(e) = slot.as_mut() {
                    e.x += if e.lr { 1 } else { -1 };
                    let (x, y, gold) = (e.x, e.y, e.gold);
                    if !(0..=9).contains(&x) {
                        *slot = None;
                    } else if x == px && y == py {
                        if gold {
                            *slot = None;
                            r += 1;
                        } else {
                            self.terminal = true;
                        }
                    }
                }
            }
        }
        self.spawn_timer -= 1;
        self.move_timer -= 1;
        if self.ramping && (self.spawn_speed > 1 || self.move_speed > 1) {
            if self.ramp_timer >= 0 {
                self.ramp_timer -= 1;
            } else {
                if self.move_speed > 1 && self.ramp_index % 2 != 0 {
                    self.move_speed -= 1;
                }
                if self.spawn_speed > 1 {
                    self.spawn_speed -= 1;
                }
                self.ramp_index += 1;
                self.ramp_timer = RAMP_INTERVAL;
            }
        }
        (r, self.terminal)
    }

    fn write_state(&self, obs: &mut [f32]) {
        const C: usize = 4;
        set_cell(obs, C, self.player_y as usize, self.player_x as usize, 0);
        for e in self.entities.iter().flatten() {
            let c = if e.gold { 3 } else { 1 };
            set_cell(obs, C, e.y as usize, e.x as usize, c);
            let back_x = if e.lr { e.x - 1 } else { e.x + 1 };
            if (0..=9).contains(&back_x) {
                set_cell(obs, C, e.y as usize, back_x as usize, 2);
            }
        }
    }

    fn difficulty_ramp(&self) -> Option<i64> {
        Some(self.ramp_index)
    }
}
