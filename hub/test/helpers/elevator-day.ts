// The simulator's elevator model is the one source of simulated elevator days; tests use it too.
export { elevatorDay } from '../../../device-sim/src/elevator-day.ts';
