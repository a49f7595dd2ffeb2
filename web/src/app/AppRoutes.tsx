// The pages of a logged-in user. Each page loads its own code (lazy), so the login page and
// the dashboard do not carry the table, the form or the log viewer.

import { lazy, Suspense } from 'react';
import { Route, Routes } from 'react-router';
import { Loading } from '../ui/index.ts';
import { Layout } from './Layout.tsx';
import { LiveJobsProvider } from '../features/jobs/LiveJobs.tsx';
import { DashboardPage } from '../features/dashboard/DashboardPage.tsx';

const VmsPage = lazy(() => import('../features/vms/VmsPage.tsx'));
const VmPage = lazy(() => import('../features/vms/VmPage.tsx'));
const JobsPage = lazy(() => import('../features/jobs/JobsPage.tsx'));
const JobPage = lazy(() => import('../features/jobs/JobPage.tsx'));
const PoliciesPage = lazy(() => import('../features/policies/PoliciesPage.tsx'));
const PolicyEditPage = lazy(() => import('../features/policies/PolicyEditPage.tsx'));
const RepositoriesPage = lazy(() => import('../features/repositories/RepositoriesPage.tsx'));
const AlertsPage = lazy(() => import('../features/alerts/AlertsPage.tsx'));
const UsersPage = lazy(() => import('../features/access/UsersPage.tsx'));
const AuditPage = lazy(() => import('../features/access/AuditPage.tsx'));
const SettingsPage = lazy(() => import('../features/settings/SettingsPage.tsx'));
const NotFoundPage = lazy(() => import('./NotFoundPage.tsx'));

export function AppRoutes() {
  return (
    <LiveJobsProvider>
      <Layout>
        <Suspense fallback={<Loading what="page" />}>
          <Routes>
            <Route path="/" element={<DashboardPage />} />
            <Route path="/vms" element={<VmsPage />} />
            <Route path="/vms/:vm" element={<VmPage />} />
            <Route path="/jobs" element={<JobsPage />} />
            <Route path="/jobs/:id" element={<JobPage />} />
            <Route path="/policies" element={<PoliciesPage />} />
            <Route path="/policies/new" element={<PolicyEditPage />} />
            <Route path="/policies/:name/edit" element={<PolicyEditPage />} />
            <Route path="/repositories" element={<RepositoriesPage />} />
            <Route path="/alerts" element={<AlertsPage />} />
            <Route path="/users" element={<UsersPage />} />
            <Route path="/audit" element={<AuditPage />} />
            <Route path="/settings" element={<SettingsPage />} />
            <Route path="*" element={<NotFoundPage />} />
          </Routes>
        </Suspense>
      </Layout>
    </LiveJobsProvider>
  );
}
