//! Seaquest: a submarine shoots fish and enemy subs (+1 each), rescues divers, and must
//! surface for oxygen with at least one diver aboard; surfacing with six pays the remaining
//! oxygen and ramps up difficulty (`minatar/environments/seaquest.py`).
//!
//! MinAtar keeps the entities in Python lists that it edits while iterating over them in
//! reverse and from which `list.remove` deletes the *first equal* element. The lists here
//! behave the same way (see [`remove_first_equal`]), so the rare cases where two entities are
//! equal replay exactly too.

use super::{set_cell, Game, MinAtarRng, DOWN, FIRE, LEFT, RIGHT, UP};

const MAX_OXYGEN: i64 = 200;
const INIT_SPAWN_SPEED: i64 = 20;
const DIVER_SPAWN_SPEED: i64 = 30;
const INIT_MOVE_INTERVAL: i64 = 5;
const SHOT_COOL_DOWN: i64 = 5;
const ENEMY_SHOT_INTERVAL: i64 = 10;
const DIVER_MOVE_INTERVAL: i64 = 5;

// Entities as MinAtar's lists: [x, y, direction (1 = right), timers...].
type Bullet = [i64; 3];
type Fish = [i64; 4];
type Sub = [i64; 5];
type Diver = [i64; 4];

/// Python's `list.remove(value)`: deletes the first element equal to `value`. `held` is where
/// the element a loop is working on sits; it follows the shift, or becomes `None` when that
/// element itself was deleted.
fn remove_first_equal<const N: usize>(
    list: &mut Vec<[i64; N]>,
    value: &[i64; N],
    held: &mut Option<usize>,
) {
    if let Some(k) = list.iter().position(|x| x == value) {
        list.remove(k);
        *held = match *held {
            Some(h) if h == k => None,
            Some(h) if h > k => Some(h - 1),
            other => other,
        };
    }
}

/// Writes the loop's element back into the list while it is still there.
#[inline]
fn store<const N: usize>(list: &mut [[i64; N]], held: Option<usize>, value: [i64; N]) {
    if let Some(k) = held {
        list[k] = value;
    }
}

#[inline]
fn step_x(direction: i64) -> i64 {
    if direction != 0 {
        1
    } else {
        -1
    }
}

#[derive(Clone, Debug)]
pub struct Seaquest {
    ramping: bool,
    oxygen: i64,
    diver_count: i64,
    sub_x: i64,
    sub_y: i64,
    /// Facing right.
    sub_or: bool,
    f_bullets: Vec<Bullet>,
    e_bullets: Vec<Bullet>,
    e_fish: Vec<Fish>,
    e_subs: Vec<Sub>,
    divers: Vec<Diver>,
    e_spawn_speed: i64,
    e_spawn_timer: i64,
    d_spawn_timer: i64,
    move_speed: i64,
    ramp_index: i64,
    shot_timer: i64,
    surface: bool,
    terminal: bool,
}

impl Seaquest {
    fn at_sub(&self, x: i64, y: i64) -> bool {
        x == self.sub_x && y == self.sub_y
    }

    fn surface(&mut self) -> i64 {
        self.surface = true;
        let r = if self.diver_count == 6 {
            self.diver_count = 0;
            (self.oxygen * 10).div_euclid(MAX_OXYGEN)
        } else {
            0
        };
        self.oxygen = MAX_OXYGEN;
        // As in MinAtar, also after a full load (which leaves -1 divers).
        self.diver_count -= 1;
        if self.ramping && (self.e_spawn_speed > 1 || self.move_speed > 2) {
            if self.move_speed > 2 && self.ramp_index % 2 != 0 {
                self.move_speed -= 1;
            }
            if self.e_spawn_speed > 1 {
                self.e_spawn_speed -= 1;
            }
            self.ramp_index += 1;
        }
        r
    }

    fn spawn_enemy(&mut self, rng: &mut MinAtarRng) {
        let lr = (rng.rand() < 1.0 / 2.0) as i64;
        let is_sub = rng.rand() < 1.0 / 3.0;
        let x = if lr != 0 { 0 } else { 9 };
        let y = rng.randint(1, 9, true);
        let clash = self.e_subs.iter().any(|z| z[1] == y && z[2] != lr)
            || self.e_fish.iter().any(|z| z[1] == y && z[2] != lr);
        if clash {
            return;
        }
        if is_sub {
            self.e_subs
                .push([x, y, lr, self.move_speed, ENEMY_SHOT_INTERVAL]);
        } else {
            self.e_fish.push([x, y, lr, self.move_speed]);
        }
    }

    fn spawn_diver(&mut self, rng: &mut MinAtarRng) {
        let lr = (rng.rand() < 1.0 / 2.0) as i64;
        let x = if lr != 0 { 0 } else { 9 };
        let y = rng.randint(1, 9, true);
        self.divers.push([x, y, lr, DIVER_MOVE_INTERVAL]);
    }

    fn update_friendly_bullets(&mut self) -> i64 {
        let mut r = 0;
        let mut i = self.f_bullets.len() as isize - 1;
        while i >= 0 && (i as usize) < self.f_bullets.len() {
            let mut held = Some(i as usize);
            let mut b = self.f_bullets[i as usize];
            b[0] += step_x(b[2]);
            store(&mut self.f_bullets, held, b);
            if !(0..=9).contains(&b[0]) {
                remove_first_equal(&mut self.f_bullets, &b, &mut held);
            } else {
                let mut removed = false;
                if let Some(j) = self
                    .e_fish
                    .iter()
                    .position(|f| f[0] == b[0] && f[1] == b[1])
                {
                    self.e_fish.remove(j);
                    remove_first_equal(&mut self.f_bullets, &b, &mut held);
                    r += 1;
                    removed = true;
                }
                if !removed {
                    if let Some(j) = self
                        .e_subs
                        .iter()
                        .position(|s| s[0] == b[0] && s[1] == b[1])
                    {
                        self.e_subs.remove(j);
                        remove_first_equal(&mut self.f_bullets, &b, &mut held);
                        r += 1;
                    }
                }
            }
            i -= 1;
        }
        r
    }

    fn update_divers(&mut self) {
        let mut i = self.divers.len() as isize - 1;
        while i >= 0 && (i as usize) < self.divers.len() {
            let mut held = Some(i as usize);
            let mut d = self.divers[i as usize];
            if self.at_sub(d[0], d[1]) && self.diver_count < 6 {
                remove_first_equal(&mut self.divers, &d, &mut held);
                self.diver_count += 1;
            } else if d[3] == 0 {
                d[3] = DIVER_MOVE_INTERVAL;
                d[0] += step_x(d[2]);
                store(&mut self.divers, held, d);
                if !(0..=9).contains(&d[0]) {
                    remove_first_equal(&mut self.divers, &d, &mut held);
                } else if self.at_sub(d[0], d[1]) && self.diver_count < 6 {
                    remove_first_equal(&mut self.divers, &d, &mut held);
                    self.diver_count += 1;
                }
            } else {
                d[3] -= 1;
                store(&mut self.divers, held, d);
            }
            i -= 1;
        }
    }

    fn update_enemy_subs(&mut self) -> i64 {
        let mut r = 0;
        let mut i = self.e_subs.len() as isize - 1;
        while i >= 0 && (i as usize) < self.e_subs.len() {
            let mut held = Some(i as usize);
            let mut s = self.e_subs[i as usize];
            if self.at_sub(s[0], s[1]) {
                self.terminal = true;
            }
            if s[3] == 0 {
                s[3] = self.move_speed;
                s[0] += step_x(s[2]);
                store(&mut self.e_subs, held, s);
                if !(0..=9).contains(&s[0]) {
                    remove_first_equal(&mut self.e_subs, &s, &mut held);
                } else if self.at_sub(s[0], s[1]) {
                    self.terminal = true;
                } else if let Some(j) = self
                    .f_bullets
                    .iter()
                    .position(|b| b[0] == s[0] && b[1] == s[1])
                {
                    remove_first_equal(&mut self.e_subs, &s, &mut held);
                    self.f_bullets.remove(j);
                    r += 1;
                }
            } else {
                s[3] -= 1;
                store(&mut self.e_subs, held, s);
            }
            // A sub that just left the screen or was hit still fires (MinAtar does the same).
            if s[4] == 0 {
                s[4] = ENEMY_SHOT_INTERVAL;
                store(&mut self.e_subs, held, s);
                self.e_bullets.push([s[0], s[1], s[2]]);
            } else {
                s[4] -= 1;
                store(&mut self.e_subs, held, s);
            }
            i -= 1;
        }
        r
    }

    fn update_enemy_bullets(&mut self) {
        let mut i = self.e_bullets.len() as isize - 1;
        while i >= 0 && (i as usize) < self.e_bullets.len() {
            let mut held = Some(i as usize);
            let mut b = self.e_bullets[i as usize];
            if self.at_sub(b[0], b[1]) {
                self.terminal = true;
            }
            b[0] += step_x(b[2]);
            store(&mut self.e_bullets, held, b);
            if !(0..=9).contains(&b[0]) {
                remove_first_equal(&mut self.e_bullets, &b, &mut held);
            } else if self.at_sub(b[0], b[1]) {
                self.terminal = true;
            }
            i -= 1;
        }
    }

    fn update_enemy_fish(&mut self) -> i64 {
        let mut r = 0;
        let mut i = self.e_fish.len() as isize - 1;
        while i >= 0 && (i as usize) < self.e_fish.len() {
            let mut held = Some(i as usize);
            let mut f = self.e_fish[i as usize];
            if self.at_sub(f[0], f[1]) {
                self.terminal = true;
            }
            if f[3] == 0 {
                f[3] = self.move_speed;
                f[0] += step_x(f[2]);
                store(&mut self.e_fish, held, f);
                if !(0..=9).contains(&f[0]) {
                    remove_first_equal(&mut self.e_fish, &f, &mut held);
                } else if self.at_sub(f[0], f[1]) {
                    self.terminal = true;
                } else if let Some(j) = self
                    .f_bullets
                    .iter()
                    .position(|b| b[0] == f[0] && b[1] == f[1])
                {
                    remove_first_equal(&mut self.e_fish, &f, &mut held);
                    self.f_bullets.remove(j);
                    r += 1;
                }
            } else {
                f[3] -= 1;
                store(&mut self.e_fish, held, f);
            }
            i -= 1;
        }
        r
    }
}

impl Game for Seaquest {
    const NAME: &'static str = "Seaquest";
    const CHANNELS: &'static [&'static str] = &[
        "sub_front",
        "sub_back",
        "friendly_bullet",
        "trail",
        "enemy_bullet",
        "enemy_fish",
        "enemy_sub",
        "oxygen_guage",
        "diver_guage",
        "diver",
    ];
    const MINIMAL_ACTIONS: &'static [u8] = &[0, 1, 2, 3, 4, 5];
    const DESCRIPTION: &'static str = "shoot fish and subs, rescue divers, surface for oxygen";

    fn new(ramping: bool) -> Self {
        Seaquest {
            ramping,
            oxygen: MAX_OXYGEN,
            diver_count: 0,
            sub_x: 5,
            sub_y: 0,
            sub_or: false,
            f_bullets: Vec::with_capacity(16),
            e_bullets: Vec::with_capacity(16),
            e_fish: Vec::with_capacity(16),
            e_subs: Vec::with_capacity(16),
            divers: Vec::with_capacity(16),
            e_spawn_speed: INIT_SPAWN_SPEED,
            e_spawn_timer: INIT_SPAWN_SPEED,
            d_spawn_timer: DIVER_SPAWN_SPEED,
            move_speed: INIT_MOVE_INTERVAL,
            ramp_index: 0,
            shot_timer: 0,
            surface: true,
            terminal: false,
        }
    }

    fn reset(&mut self, _rng: &mut MinAtarRng) {
        self.oxygen = MAX_OXYGEN;
        self.diver_count = 0;
        self.sub_x = 5;
        self.sub_y = 0;
        self.sub_or = false;
        // Cleared, not reallocated: a steady state steps without allocating.
        self.f_bullets.clear();
        self.e_bullets.clear();
        self.e_fish.clear();
        self.e_subs.clear();
        self.divers.clear();
        self.e_spawn_speed = INIT_SPAWN_SPEED;
        self.e_spawn_timer = INIT_SPAWN_SPEED;
        self.d_spawn_timer = DIVER_SPAWN_SPEED;
        self.move_speed = INIT_MOVE_INTERVAL;
        self.ramp_index = 0;
        self.shot_timer = 0;
        self.surface = true;
        self.terminal = false;
    }

    fn act(&mut self, action: u8, rng: &mut MinAtarRng) -> (i64, bool) {
        let mut r = 0;
        if self.terminal {
            return (r, true);
        }
        if self.e_spawn_timer == 0 {
            self.spawn_enemy(rng);
            self.e_spawn_timer = self.e_spawn_speed;
        }
        if self.d_spawn_timer == 0 {
            self.spawn_diver(rng);
            self.d_spawn_timer = DIVER_SPAWN_SPEED;
        }
        if action == FIRE && self.shot_timer == 0 {
            self.f_bullets
                .push([self.sub_x, self.sub_y, self.sub_or as i64]);
            self.shot_timer = SHOT_COOL_DOWN;
        } else if action == LEFT {
            self.sub_x = (self.sub_x - 1).max(0);
            self.sub_or = false;
        } else if action == RIGHT {
            self.sub_x = (self.sub_x + 1).min(9);
            self.sub_or = true;
        } else if action == UP {
            self.sub_y = (self.sub_y - 1).max(0);
        } else if action == DOWN {
            self.sub_y = (self.sub_y + 1).min(8);
        }
        r += self.update_friendly_bullets();
        self.update_divers();
        r += self.update_enemy_subs();
        self.update_enemy_bullets();
        r += self.update_enemy_fish();
        if self.e_spawn_timer > 0 {
            self.e_spawn_timer -= 1;
        }
        if self.d_spawn_timer > 0 {
            self.d_spawn_timer -= 1;
        }
        if self.shot_timer > 0 {
            self.shot_timer -= 1;
        }
        if self.oxygen <= 0 {
            self.terminal = true;
        }
        if self.sub_y > 0 {
            self.oxygen -= 1;
            self.surface = false;
        } else if !self.surface {
            if self.diver_count == 0 {
                self.terminal = true;
            } else {
                r += self.surface();
            }
        }
        (r, self.terminal)
    }

    fn write_state(&self, obs: &mut [f32]) {
        const C: usize = 10;
        let cell = |obs: &mut [f32], y: i64, x: i64, c: usize| {
            // numpy's negative indices count from the end.
            let x = if x < 0 { x + 10 } else { x };
            set_cell(obs, C, y as usize, x as usize, c);
        };
        cell(obs, self.sub_y, self.sub_x, 0);
        let back_x = if self.sub_or {
            self.sub_x - 1
        } else {
            self.sub_x + 1
        };
        cell(obs, self.sub_y, back_x, 1);
        let oxygen_cells = (self.oxygen.max(0) * 10).div_euclid(MAX_OXYGEN).min(10);
        for x in 0..oxygen_cells {
            cell(obs, 9, x, 7);
        }
        for x in (9 - self.diver_count).max(0)..9 {
            cell(obs, 9, x, 8);
        }
        for b in &self.f_bullets {
            cell(obs, b[1], b[0], 2);
        }
        for b in &self.e_bullets {
            cell(obs, b[1], b[0], 4);
        }
        let trail = |obs: &mut [f32], e: &[i64]| {
            let back_x = if e[2] != 0 { e[0] - 1 } else { e[0] + 1 };
            if (0..=9).contains(&back_x) {
                cell(obs, e[1], back_x, 3);
            }
        };
        for f in &self.e_fish {
            cell(obs, f[1], f[0], 5);
            trail(obs, f);
        }
        for s in &self.e_subs {
            cell(obs, s[1], s[0], 6);
            trail(obs, s);
        }
        for d in &self.divers {
            cell(obs, d[1], d[0], 9);
            trail(obs, d);
        }
    }

    fn difficulty_ramp(&self) -> Option<i64> {
        Some(self.ramp_index)
    }
}
