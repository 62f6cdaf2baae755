import './base.css';
import './sessions.css';
