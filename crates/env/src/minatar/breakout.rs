//! Breakout: bounce the ball off the paddle to break three rows of bricks; +1 per brick, a new
//! wall when all are gone; the episode ends when the ball reaches the bottom row past the
//! paddle (`minatar/environments/breakout.py`).

use super::{set_bits, set_cell, Game, MinAtarRng, LEFT, RIGHT};

/// Bricks on rows 1..=3 (bit `y*10 + x`).
const WALL: u128 = ((1u128 << 30) - 1) << 10;

#[derive(Clone, Debug)]
pub struct Breakout {
    ball_x: i32,
    ball_y: i32,
    /// 0: up-left, 1: up-right, 2: down-right, 3: down-left.
    ball_dir: usize,
    pos: i32,
    bricks: u128,
    strike: bool,
    last_x: i32,
    last_y: i32,
    terminal: bool,
}

impl Game for Breakout {
    const NAME: &'static str = "Breakout";
    const CHANNELS: &'static [&'static str] = &["paddle", "ball", "trail", "brick"];
    const MINIMAL_ACTIONS: &'static [u8] = &[0, 1, 3];
    const DESCRIPTION: &'static str = "break bricks with a ball bounced off a paddle";

    fn new(_ramping: bool) -> Self {
        Breakout {
            ball_x: 0,
            ball_y: 3,
            ball_dir: 2,
            pos: 4,
            bricks: WALL,
            strike: false,
            last_x: 0,
            last_y: 3,
            terminal: false,
        }
    }

    fn reset(&mut self, rng: &mut MinAtarRng) {
        self.ball_y = 3;
        let start = rng.randint(0, 2, false);
        (self.ball_x, self.ball_dir) = if start == 0 { (0, 2) } else { (9, 3) };
        self.pos = 4;
        self.bricks = WALL;
        self.strike = false;
        self.last_x = self.ball_x;
        self.last_y = self.ball_y;
        self.terminal = false;
    }

    #[inline]
    fn act(&mut self, action: u8, _rng: &mut MinAtarRng) -> (i64, bool) {
        let mut r = 0;
        if self.terminal {
            return (r, true);
        }
        if action == LEFT {
            self.pos = (self.pos - 1).max(0);
        } else if action == RIGHT {
            self.pos = (self.pos + 1).min(9);
        }
        self.last_x = self.ball_x;
        self.last_y = self.ball_y;
        let (dx, dy) = [(-1, -1), (1, -1), (1, 1), (-1, 1)][self.ball_dir];
        let mut new_x = self.ball_x + dx;
        let mut new_y = self.ball_y + dy;
        let mut strike_toggle = false;
        if !(0..=9).contains(&new_x) {
            new_x = new_x.clamp(0, 9);
            self.ball_dir = [1, 0, 3, 2][self.ball_dir];
        }
        let bit = |x: i32, y: i32| 1u128 << (y * 10 + x);
        if new_y < 0 {
            new_y = 0;
            self.ball_dir = [3, 2, 1, 0][self.ball_dir];
        } else if self.bricks & bit(new_x, new_y) != 0 {
            strike_toggle = true;
            if !self.strike {
                r += 1;
                self.strike = true;
                self.bricks &= !bit(new_x, new_y);
                new_y = self.last_y;
                self.ball_dir = [3, 2, 1, 0][self.ball_dir];
            }
        } else if new_y == 9 {
            if self.bricks == 0 {
                self.bricks = WALL;
            }
            if self.ball_x == self.pos {
                self.ball_dir = [3, 2, 1, 0][self.ball_dir];
                new_y = self.last_y;
            } else if new_x == self.pos {
                self.ball_dir = [2, 3, 0, 1][self.ball_dir];
                new_y = self.last_y;
            } else {
                self.terminal = true;
            }
        }
        if !strike_toggle {
            self.strike = false;
        }
        self.ball_x = new_x;
        self.ball_y = new_y;
        (r, self.terminal)
    }

    #[inline]
    fn write_state(&self, obs: &mut [f32]) {
        const C: usize = 4;
        set_cell(obs, C, self.ball_y as usize, self.ball_x as usize, 1);
        set_cell(obs, C, 9, self.pos as usize, 0);
        set_cell(obs, C, self.last_y as usize, self.last_x as usize, 2);
        set_bits(obs, C, self.bricks, 3);
    }
}
