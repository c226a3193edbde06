//! Space Invaders: shoot the descending alien block from a cannon; +1 per alien; aliens shoot
//! back; a cleared wave respawns faster; the episode ends when an alien or a bullet reaches the
//! cannon (`minatar/environments/space_invaders.py`). Maps are 100-bit masks, bit `y*10 + x`,
//! and `np.roll` is reproduced with its wrap-around.

use super::{set_bits, set_cell, Game, MinAtarRng, FIRE, LEFT, RIGHT};

const SHOT_COOL_DOWN: i64 = 5;
const ENEMY_MOVE_INTERVAL: i64 = 12;
const ENEMY_SHOT_INTERVAL: i64 = 10;

const ALL: u128 = (1u128 << 100) - 1;
const ROW0: u128 = (1u128 << 10) - 1;
const ROW9: u128 = ROW0 << 90;
/// Every cell of column 0 (and, shifted, of column `x`).
const COL0: u128 = {
    let mut m = 0u128;
    let mut y = 0;
    while y < 10 {
        m |= 1u128 << (y * 10);
        y += 1;
    }
    m
};
const COL9: u128 = COL0 << 9;
/// Rows 0..=3, columns 2..=7.
const WAVE: u128 = {
    let mut m = 0u128;
    let mut y = 0;
    while y < 4 {
        let mut x = 2;
        while x < 8 {
            m |= 1u128 << (y * 10 + x);
            x += 1;
        }
        y += 1;
    }
    m
};

#[inline]
fn bit(y: i32, x: i32) -> u128 {
    1u128 << (y * 10 + x)
}

/// `np.roll(m, 1, axis=0)`: every row down one, row 9 to row 0.
#[inline]
fn roll_down(m: u128) -> u128 {
    ((m << 10) & ALL) | (m >> 90)
}

/// `np.roll(m, -1, axis=0)`.
#[inline]
fn roll_up(m: u128) -> u128 {
    (m >> 10) | ((m & ROW0) << 90)
}

/// `np.roll(m, 1, axis=1)`: every column right one, column 9 to column 0.
#[inline]
fn roll_right(m: u128) -> u128 {
    ((m << 1) & !COL0 & ALL) | ((m & COL9) >> 9)
}

/// `np.roll(m, -1, axis=1)`.
#[inline]
fn roll_left(m: u128) -> u128 {
    ((m >> 1) & !COL9) | ((m & COL0) << 9)
}

#[derive(Clone, Debug)]
pub struct SpaceInvaders {
    ramping: bool,
    pos: i32,
    f_bullets: u128,
    e_bullets: u128,
    aliens: u128,
    alien_dir: i32,
    enemy_move_interval: i64,
    alien_move_timer: i64,
    alien_shot_timer: i64,
    ramp_index: i64,
    shot_timer: i64,
    terminal: bool,
}

impl SpaceInvaders {
    /// The lowest alien in the column nearest the cannon (ties: the left column).
    fn nearest_alien(&self) -> Option<(i32, i32)> {
        let pos = self.pos;
        let mut order: [i32; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        order.sort_by_key(|x| (x - pos).abs());
        for x in order {
            let column = self.aliens & (COL0 << x);
            if column != 0 {
                let y = (127 - column.leading_zeros() as i32) / 10;
                return Some((y, x));
            }
        }
        None
    }
}

impl Game for SpaceInvaders {
    const NAME: &'static str = "SpaceInvaders";
    const CHANNELS: &'static [&'static str] = &[
        "cannon",
        "alien",
        "alien_left",
        "alien_right",
        "friendly_bullet",
        "enemy_bullet",
    ];
    const MINIMAL_ACTIONS: &'static [u8] = &[0, 1, 3, 5];
    const DESCRIPTION: &'static str = "shoot down a descending block of aliens that shoot back";

    fn new(ramping: bool) -> Self {
        SpaceInvaders {
            ramping,
            pos: 5,
            f_bullets: 0,
            e_bullets: 0,
            aliens: WAVE,
            alien_dir: -1,
            enemy_move_interval: ENEMY_MOVE_INTERVAL,
            alien_move_timer: ENEMY_MOVE_INTERVAL,
            alien_shot_timer: ENEMY_SHOT_INTERVAL,
            ramp_index: 0,
            shot_timer: 0,
            terminal: false,
        }
    }

    fn reset(&mut self, _rng: &mut MinAtarRng) {
        *self = SpaceInvaders::new(self.ramping);
    }

    fn act(&mut self, action: u8, _rng: &mut MinAtarRng) -> (i64, bool) {
        let mut r = 0;
        if self.terminal {
            return (r, true);
        }
        if action == FIRE && self.shot_timer == 0 {
            self.f_bullets |= bit(9, self.pos);
            self.shot_timer = SHOT_COOL_DOWN;
        } else if action == LEFT {
            self.pos = (self.pos - 1).max(0);
        } else if action == RIGHT {
            self.pos = (self.pos + 1).min(9);
        }
        self.f_bullets = roll_up(self.f_bullets) & !ROW9;
        self.e_bullets = roll_down(self.e_bullets) & !ROW0;
        let cannon = bit(9, self.pos);
        if self.e_bullets & cannon != 0 {
            self.terminal = true;
        }
        if self.aliens & cannon != 0 {
            self.terminal = true;
        }
        if self.alien_move_timer == 0 {
            self.alien_move_timer = (self.aliens.count_ones() as i64).min(self.enemy_move_interval);
            if (self.aliens & COL0 != 0 && self.alien_dir < 0)
                || (self.aliens & COL9 != 0 && self.alien_dir > 0)
            {
                self.alien_dir = -self.alien_dir;
                if self.aliens & ROW9 != 0 {
                    self.terminal = true;
                }
                self.aliens = roll_down(self.aliens);
            } else if self.alien_dir > 0 {
                self.aliens = roll_right(self.aliens);
            } else {
                self.aliens = roll_left(self.aliens);
            }
            if self.aliens & cannon != 0 {
                self.terminal = true;
            }
        }
        if self.alien_shot_timer == 0 {
            self.alien_shot_timer = ENEMY_SHOT_INTERVAL;
            // There is always an alien here: a cleared wave respawns at the end of `act`.
            if let Some((y, x)) = self.nearest_alien() {
                self.e_bullets |= bit(y, x);
            }
        }
        let kills = self.aliens & self.f_bullets;
        r += kills.count_ones() as i64;
        self.aliens &= !kills;
        self.f_bullets &= !kills;
        if self.shot_timer > 0 {
            self.shot_timer -= 1;
        }
        self.alien_move_timer -= 1;
        self.alien_shot_timer -= 1;
        if self.aliens == 0 {
            if self.enemy_move_interval > 6 && self.ramping {
                self.enemy_move_interval -= 1;
                self.ramp_index += 1;
            }
            self.aliens = WAVE;
        }
        (r, self.terminal)
    }

    fn write_state(&self, obs: &mut [f32]) {
        const C: usize = 6;
        set_cell(obs, C, 9, self.pos as usize, 0);
        set_bits(obs, C, self.aliens, 1);
        set_bits(obs, C, self.aliens, if self.alien_dir < 0 { 2 } else { 3 });
        set_bits(obs, C, self.f_bullets, 4);
        set_bits(obs, C, self.e_bullets, 5);
    }

    fn difficulty_ramp(&self) -> Option<i64> {
        Some(self.ramp_index)
    }
}
