//! Freeway: move the chicken up across eight lanes of traffic; +1 per crossing (car speeds are
//! then redrawn); a car sends the chicken back to the bottom; 2500 frames per episode
//! (`minatar/environments/freeway.py`).

use super::{set_cell, Game, MinAtarRng, DOWN, UP};

const PLAYER_SPEED: i64 = 3;
const TIME_LIMIT: i64 = 2500;

#[derive(Clone, Copy, Debug)]
struct Car {
    x: i32,
    y: i32,
    timer: i64,
    /// Signed: the sign is the direction, the magnitude frames per move.
    speed: i64,
}

#[derive(Clone, Debug)]
pub struct Freeway {
    cars: [Car; 8],
    pos: i32,
    move_timer: i64,
    terminate_timer: i64,
    terminal: bool,
}

impl Freeway {
    fn randomize_cars(&mut self, rng: &mut MinAtarRng, initialize: bool) {
        let mut speeds = [0i64; 8];
        rng.randint_fill(1, 6, &mut speeds);
        let mut u = [0.0f64; 8];
        rng.rand_fill(&mut u);
        for (i, car) in self.cars.iter_mut().enumerate() {
            // np.sign(u - 0.5).astype(int)
            let direction = if u[i] > 0.5 {
                1
            } else if u[i] < 0.5 {
                -1
            } else {
                0
            };
            let speed = speeds[i] * direction;
            if initialize {
                *car = Car {
                    x: 0,
                    y: i as i32 + 1,
                    timer: speed.abs(),
                    speed,
                };
            } else {
                car.timer = speed.abs();
                car.speed = speed;
            }
        }
    }
}

impl Game for Freeway {
    const NAME: &'static str = "Freeway";
    const CHANNELS: &'static [&'static str] = &[
        "chicken", "car", "speed1", "speed2", "speed3", "speed4", "speed5",
    ];
    const MINIMAL_ACTIONS: &'static [u8] = &[0, 2, 4];
    const DESCRIPTION: &'static str = "cross eight lanes of traffic as often as possible";

    fn new(_ramping: bool) -> Self {
        let car = Car {
            x: 0,
            y: 1,
            timer: 1,
            speed: 1,
        };
        Freeway {
            cars: [car; 8],
            pos: 9,
            move_timer: PLAYER_SPEED,
            terminate_timer: TIME_LIMIT,
            terminal: false,
        }
    }

    fn reset(&mut self, rng: &mut MinAtarRng) {
        self.randomize_cars(rng, true);
        self.pos = 9;
        self.move_timer = PLAYER_SPEED;
        self.terminate_timer = TIME_LIMIT;
        self.terminal = false;
    }

    fn act(&mut self, action: u8, rng: &mut MinAtarRng) -> (i64, bool) {
        let mut r = 0;
        if self.terminal {
            return (r, true);
        }
        if action == UP && self.move_timer == 0 {
            self.move_timer = PLAYER_SPEED;
            self.pos = (self.pos - 1).max(0);
        } else if action == DOWN && self.move_timer == 0 {
            self.move_timer = PLAYER_SPEED;
            self.pos = (self.pos + 1).min(9);
        }
        if self.pos == 0 {
            r += 1;
            self.randomize_cars(rng, false);
            self.pos = 9;
        }
        for car in self.cars.iter_mut() {
            if car.x == 4 && car.y == self.pos {
                self.pos = 9;
            }
            if car.timer == 0 {
                car.timer = car.speed.abs();
                car.x += if car.speed > 0 { 1 } else { -1 };
                if car.x < 0 {
                    car.x = 9;
                } else if car.x > 9 {
                    car.x = 0;
                }
                if car.x == 4 && car.y == self.pos {
                    self.pos = 9;
                }
            } else {
                car.timer -= 1;
            }
        }
        if self.move_timer > 0 {
            self.move_timer -= 1;
        }
        self.terminate_timer -= 1;
        if self.terminate_timer < 0 {
            self.terminal = true;
        }
        (r, self.terminal)
    }

    fn write_state(&self, obs: &mut [f32]) {
        const C: usize = 7;
        set_cell(obs, C, self.pos as usize, 4, 0);
        // A speed-0 car (a direction draw of exactly 0.5) has no trail channel in MinAtar
        // either; there Python reuses the previous car's channel, here the car gets none.
        for car in &self.cars {
            set_cell(obs, C, car.y as usize, car.x as usize, 1);
            let mut back_x = if car.speed > 0 { car.x - 1 } else { car.x + 1 };
            if back_x < 0 {
                back_x = 9;
            } else if back_x > 9 {
                back_x = 0;
            }
            let speed = car.speed.unsigned_abs() as usize;
            if (1..=5).contains(&speed) {
                set_cell(obs, C, car.y as usize, back_x as usize, 1 + speed);
            }
        }
    }
}
