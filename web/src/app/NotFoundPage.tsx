import { Anchor, Text } from '@mantine/core';
import { Link } from 'react-router';
import { PageHeader } from '../ui/index.ts';

export default function NotFoundPage() {
  return (
    <>
      <PageHeader title="No such page" />
      <Text>The console has no page here. <Anchor component={Link} to="/">Back to the dashboard</Anchor></Text>
    </>
  );
}
