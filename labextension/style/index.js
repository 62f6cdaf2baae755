import './base.css';
import './sessions.css';
import './sweeps.css';
import './schedules.css';
