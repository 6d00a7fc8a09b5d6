import { createContext, useContext } from 'react';
import type { User } from './api';

export type Auth = { user: User | null; setUser: (u: User | null) => void };
export const AuthContext = createContext<Auth>({ user: null, setUser: () => {} });
export const useAuth = () => useContext(AuthContext);
